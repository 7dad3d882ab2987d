// pnpm bench: 5,000 jobs through queuekit vs plain @azure/service-bus, same test server, one run.
// Each side: send all jobs (batches of 100), then consume them all with 50 in flight, completing each.
// Needs `pnpm build` first (runs against dist/). Set SERVICEBUS_CONNECTION_STRING to bench another broker.
import { randomUUID } from 'node:crypto';
import { ServiceBusClient } from '@azure/service-bus';
import { createQueue } from '@queuekit/core';
import { startEmulator } from '@queuekit/servicebus-emulator';
import { ServiceBusDriver } from '../dist/index.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 5000);
const CONCURRENCY = 50;
const BATCH = 100;

const emulator = process.env.SERVICEBUS_CONNECTION_STRING ? undefined : await startEmulator();
const connectionString = process.env.SERVICEBUS_CONNECTION_STRING ?? emulator.connectionString;
const payload = (i) => ({ i, to: `user${i}@example.com`, subject: 'Your report is ready' });

async function native() {
  const name = `bench-native-${randomUUID().slice(0, 8)}`;
  const client = new ServiceBusClient(connectionString);
  const sender = client.createSender(name);
  const started = performance.now();
  for (let i = 0; i < JOBS; i += BATCH) {
    const batch = await sender.createMessageBatch();
    for (let j = i; j < Math.min(JOBS, i + BATCH); j++) {
      batch.tryAddMessage({ body: Buffer.from(JSON.stringify(payload(j))), contentType: 'application/json' });
    }
    await sender.sendMessages(batch);
  }
  const sent = performance.now();
  const receiver = client.createReceiver(name, {
    maxAutoLockRenewalDurationInMs: 0,
    skipParsingBodyAsJson: true,
  });
  let done = 0;
  await new Promise((resolve, reject) => {
    const subscription = receiver.subscribe(
      {
        async processMessage(message) {
          JSON.parse(Buffer.from(message.body).toString('utf8'));
          await receiver.completeMessage(message);
          if (++done === JOBS) subscription.close().then(resolve, reject);
        },
        async processError(args) {
          reject(args.error);
        },
      },
      { maxConcurrentCalls: CONCURRENCY, autoCompleteMessages: false },
    );
  });
  const consumed = performance.now();
  await client.close();
  return { send: sent - started, consume: consumed - sent, total: consumed - started };
}

async function queuekit() {
  const name = `bench-qk-${randomUUID().slice(0, 8)}`;
  const queue = createQueue({ name, driver: new ServiceBusDriver({ connectionString }), ownsDriver: true });
  const started = performance.now();
  for (let i = 0; i < JOBS; i += BATCH) {
    const entries = [];
    for (let j = i; j < Math.min(JOBS, i + BATCH); j++) entries.push({ name: 'email', data: payload(j) });
    await queue.sendBatch(entries);
  }
  const sent = performance.now();
  let done = 0;
  await new Promise((resolve) => {
    queue.on('completed', () => {
      if (++done === JOBS) resolve();
    });
    queue.process(async () => undefined, { concurrency: CONCURRENCY });
  });
  const consumed = performance.now();
  await queue.close();
  return { send: sent - started, consume: consumed - sent, total: consumed - started };
}

const rate = (ms) => Math.round((JOBS / ms) * 1000);
const nativeResult = await native();
const queuekitResult = await queuekit();
console.log(
  `Service Bus bench: ${JOBS} jobs, concurrency ${CONCURRENCY}, ${emulator ? 'test server (same process)' : 'external broker'}`,
);
for (const [label, r] of [
  ['@azure/service-bus', nativeResult],
  ['queuekit', queuekitResult],
]) {
  console.log(
    `${label.padEnd(20)} send ${String(rate(r.send)).padStart(6)} jobs/s   consume ${String(rate(r.consume)).padStart(6)} jobs/s   end-to-end ${String(rate(r.total)).padStart(6)} jobs/s`,
  );
}
console.log(
  `ratio queuekit/native: send ${(nativeResult.send / queuekitResult.send).toFixed(2)}x, consume ${(nativeResult.consume / queuekitResult.consume).toFixed(2)}x, end-to-end ${(nativeResult.total / queuekitResult.total).toFixed(2)}x`,
);
await emulator?.stop();
