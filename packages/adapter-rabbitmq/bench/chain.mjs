// pnpm bench:chain: what completing a job WITH a follow-up costs on RabbitMQ. Driver level, 50 deliveries
// settled concurrently (a consumer with concurrency 50), three ways:
//   ack only                  plain ack, no follow-up (the baseline)
//   ackWith (transaction)     follow-up published and parent acked in one AMQP transaction (atomic)
//   send, then ack            follow-up sent on the confirm channel, then ack (the core's non-atomic fallback)
// Needs `pnpm build` first.
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import os from 'node:os';
import { createRabbitMqDriver } from '../dist/index.js';

const url = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';
const JOBS = Number(process.env.BENCH_JOBS ?? 5_000);
const CONCURRENCY = 50;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

const message = (i) => ({
  id: `job-${i}`,
  name: 'bench',
  body: Buffer.from(JSON.stringify({ i })),
  headers: { 'content-type': 'application/json', 'qk-attempt': '1' },
});

async function run(settle) {
  const driver = await createRabbitMqDriver({ url });
  const parent = `bench-chain-${randomUUID().slice(0, 8)}`;
  const child = `${parent}-next`;
  await driver.stats(child);
  for (let i = 0; i < JOBS; i += 500) {
    await driver.send(
      parent,
      Array.from({ length: Math.min(500, JOBS - i) }, (_, k) => message(i + k)),
    );
  }
  const signal = new AbortController().signal;
  setMaxListeners(CONCURRENCY * 2, signal); // one signal shared by the 50 workers
  const t0 = performance.now();
  let done = 0;
  let finished = 0;
  const workers = Array.from({ length: CONCURRENCY }, async () => {
    while (done < JOBS) {
      const [delivery] = await driver.receive(parent, { max: 1, waitMs: 1_000, lockMs: 30_000, signal });
      if (!delivery) continue;
      await settle(driver, child, delivery);
      if (++done === JOBS) finished = performance.now();
    }
  });
  await Promise.all(workers);
  const ms = finished - t0;
  await driver.deleteQueue(parent);
  await driver.deleteQueue(child);
  await driver.close();
  return ms;
}

const contenders = {
  'ack only': (_driver, _child, delivery) => delivery.ack(),
  'ackWith (transaction)': (_driver, child, delivery) =>
    delivery.ackWith([{ queue: child, messages: [message(`${delivery.id}-next`)] }]),
  'send, then ack': async (driver, child, delivery) => {
    await driver.send(child, [message(`${delivery.id}-next`)]);
    await delivery.ack();
  },
};

const results = Object.fromEntries(Object.keys(contenders).map((name) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, settle] of Object.entries(contenders)) results[name].push(await run(settle));
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const rate = (ms) => Math.round((JOBS / ms) * 1000);
console.log(
  `${JOBS} deliveries x ${ROUNDS} rounds (medians), ${CONCURRENCY} settled concurrently, ` +
    `Node ${process.version}, ${os.cpus().length} cores`,
);
const base = rate(median(results['ack only']));
for (const [name, list] of Object.entries(results)) {
  const r = rate(median(list));
  console.log(`${name.padEnd(26)}${String(r).padEnd(10)}jobs/s   ${(r / base).toFixed(2)}x of ack only`);
}
