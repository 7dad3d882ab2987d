// pnpm bench: 10,000 small jobs through queuekit and through plain amqplib on the same broker,
// same durability (durable queue, persistent messages, publisher confirms, manual acks).
// Prints send and consume rates for both and the ratio. Needs `pnpm build` first (turbo does it).
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import os from 'node:os';
import { createQueue } from '@queuekit/core';
import amqp from 'amqplib';
import { createRabbitMqDriver } from '../dist/index.js';

const url = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';
const JOBS = Number(process.env.BENCH_JOBS ?? 10_000);
const CONCURRENCY = 50;

async function native() {
  const queue = `bench-native-${randomUUID().slice(0, 8)}`;
  const connection = await amqp.connect(url);
  const publish = await connection.createConfirmChannel();
  await publish.assertQueue(queue, { durable: true, arguments: { 'x-max-priority': 10 } });
  const t0 = performance.now();
  const confirms = [];
  for (let i = 0; i < JOBS; i++) {
    const body = Buffer.from(JSON.stringify({ i }));
    let ok = true;
    confirms.push(
      new Promise((resolve, reject) => {
        ok = publish.sendToQueue(queue, body, { persistent: true, contentType: 'application/json' }, (err) =>
          err ? reject(err) : resolve(),
        );
      }),
    );
    if (!ok) await once(publish, 'drain');
  }
  await Promise.all(confirms);
  const sent = performance.now();
  const consume = await connection.createChannel();
  await consume.prefetch(CONCURRENCY);
  let done = 0;
  await new Promise((resolve) => {
    consume.consume(queue, (message) => {
      if (!message) return;
      JSON.parse(message.content.toString('utf8'));
      consume.ack(message);
      if (++done === JOBS) resolve();
    });
  });
  const consumed = performance.now();
  await consume.close();
  await publish.deleteQueue(queue);
  await connection.close();
  return { sendMs: sent - t0, consumeMs: consumed - sent };
}

async function queuekit(queueOptions = {}) {
  const name = `bench-qk-${randomUUID().slice(0, 8)}`;
  const driver = await createRabbitMqDriver({ url });
  const queue = createQueue({ name, driver, ...queueOptions });
  await queue.stats(); // declare the queues outside the timing, as the native run does
  const t0 = performance.now();
  await Promise.all(Array.from({ length: JOBS }, (_, i) => queue.send('bench', { i })));
  const sent = performance.now();
  let done = 0;
  await new Promise((resolve) => {
    queue.on('completed', () => {
      if (++done === JOBS) resolve();
    });
    queue.process(async (job) => job.data.i, { concurrency: CONCURRENCY });
  });
  const consumed = performance.now();
  await queue.close();
  await driver.deleteQueue(name);
  await driver.close();
  return { sendMs: sent - t0, consumeMs: consumed - sent };
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const rate = (ms) => Math.round((JOBS / ms) * 1000);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const runs = { native: [], queuekit: [], bare: [] };
// Alternate the contenders so broker state and machine load hit them alike; report medians.
for (let round = 0; round < ROUNDS; round++) {
  runs.native.push(await native());
  runs.queuekit.push(await queuekit());
  runs.bare.push(await queuekit({ results: false }));
}
const summary = (list) => {
  const send = median(list.map((r) => rate(r.sendMs)));
  const consume = median(list.map((r) => rate(r.consumeMs)));
  const total = median(list.map((r) => rate(r.sendMs + r.consumeMs)));
  return [send, consume, total];
};
const nat = summary(runs.native);
const rows = [
  ['', 'send jobs/s', 'consume jobs/s', 'end-to-end jobs/s'],
  ['amqplib (native)', ...nat],
];
for (const [label, list] of [
  ['queuekit', runs.queuekit],
  ['queuekit results:false', runs.bare],
]) {
  const qk = summary(list);
  rows.push([label, ...qk]);
  rows.push([`  ratio vs native`, ...qk.map((value, i) => (value / nat[i]).toFixed(2))]);
}
console.log(
  `${JOBS} jobs x ${ROUNDS} rounds (medians), consumer concurrency = prefetch = ${CONCURRENCY}, ` +
    `Node ${process.version}, ${os.cpus().length} cores`,
);
for (const row of rows) console.log(row.map((cell, i) => String(cell).padEnd(i === 0 ? 26 : 18)).join(''));
