// pnpm bench: 10,000 small jobs through queuekit (this adapter) and through plain bullmq, on the same
// Redis, in one run. Both sides enqueue in batches of 1,000 and process with concurrency 50.
// The sides alternate for ROUNDS rounds and the median of each is reported, so that a burst of load
// from something else on the machine does not decide the ratio. "Node CPU" is the CPU time of this
// process per job (enqueue plus process), "Redis CPU" the Redis server's (INFO cpu; only meaningful
// when nothing else uses that Redis): both steadier than rates on a shared machine.
// Native sides: bullmq with a `Worker`'s defaults (completed jobs kept, no priority); bullmq doing the
// work queuekit does (every job prioritized, completed jobs kept 24 h); bullmq deleting completed jobs
// (to compare with queuekit's `keepCompletedMs: 0`).
// Usage: node bench/bench.mjs [jobs] [concurrency] [rounds]
//        (QUEUEKIT_REDIS_URL, default redis://127.0.0.1:6379)
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { createQueue } from '@queuekit/core';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { BullmqDriver } from '../dist/index.js';

const url = process.env.QUEUEKIT_REDIS_URL ?? 'redis://127.0.0.1:6379';
const jobs = Number(process.argv[2] ?? 10_000);
const concurrency = Number(process.argv[3] ?? 50);
const rounds = Number(process.argv[4] ?? 3);
const batch = 1000;
const prefix = `qkbench-${randomUUID().slice(0, 8)}`;

function payload(i) {
  return { i, user: `user-${i % 100}`, action: 'resize' };
}

const probe = new Redis(url);

/** The Redis server's CPU seconds so far (user + system). */
async function redisCpuSeconds() {
  const info = await probe.info('cpu');
  const field = (key) => Number(new RegExp(`${key}:([0-9.]+)`).exec(info)?.[1] ?? 0);
  return field('used_cpu_sys') + field('used_cpu_user');
}

/** `run()` with the Redis server's CPU per job added (`redisUs`). */
async function measured(run) {
  const before = await redisCpuSeconds();
  const result = await run();
  return { ...result, redisUs: (((await redisCpuSeconds()) - before) * 1e6) / jobs };
}

/** Job options of each native side. */
const NATIVE = {
  defaults: {},
  sameWork: { priority: 10, removeOnComplete: { age: 24 * 60 * 60 } },
  deleted: { removeOnComplete: true },
};

async function native(count, jobOpts) {
  const name = `native-${randomUUID().slice(0, 8)}`;
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection, prefix });
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i += batch) {
    const chunk = [];
    for (let j = i; j < Math.min(count, i + batch); j++)
      chunk.push({ name: 'job', data: payload(j), opts: jobOpts });
    await queue.addBulk(chunk);
  }
  const enqueued = performance.now();
  let done = 0;
  const finished = new Promise((resolve) => {
    const worker = new Worker(name, async () => undefined, { connection, prefix, concurrency });
    worker.on('completed', () => {
      if (++done === count) resolve(worker);
    });
  });
  const worker = await finished;
  const processed = performance.now();
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  const used = process.cpuUsage(cpu);
  return {
    enqueueMs: enqueued - started,
    processMs: processed - enqueued,
    cpuUs: (used.user + used.system) / count,
  };
}

/** Through the core's Queue; `driverOptions` e.g. `{ keepCompletedMs: 0 }` (jobs deleted on completion, records in the core's store). */
async function queuekit(count, driverOptions = {}) {
  const name = `queuekit-${randomUUID().slice(0, 8)}`;
  const driver = new BullmqDriver({ url, prefix, ...driverOptions });
  const queue = createQueue({ name, driver });
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i += batch) {
    const chunk = [];
    for (let j = i; j < Math.min(count, i + batch); j++) chunk.push({ name: 'job', data: payload(j) });
    await queue.sendBatch(chunk);
  }
  const enqueued = performance.now();
  let done = 0;
  await new Promise((resolve) => {
    queue.on('completed', () => {
      if (++done === count) resolve();
    });
    queue.process(async () => undefined, { concurrency });
  });
  const processed = performance.now();
  await queue.close();
  await driver.deleteQueue(name).catch(() => undefined);
  await driver.close();
  const used = process.cpuUsage(cpu);
  return {
    enqueueMs: enqueued - started,
    processMs: processed - enqueued,
    cpuUs: (used.user + used.system) / count,
  };
}

/** The driver alone (no core Queue): the same transport work, without the core's per-job bookkeeping. */
async function driverOnly(count, driverOptions = {}) {
  const name = `driver-${randomUUID().slice(0, 8)}`;
  const driver = new BullmqDriver({ url, prefix, ...driverOptions });
  const encoder = new TextEncoder();
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i += batch) {
    const chunk = [];
    for (let j = i; j < Math.min(count, i + batch); j++) {
      chunk.push({
        id: randomUUID(),
        name: 'job',
        body: encoder.encode(JSON.stringify(payload(j))),
        headers: { 'content-type': 'application/json', 'qk-name': 'job', 'qk-attempt': '1' },
        priority: 0,
      });
    }
    await driver.send(name, chunk);
  }
  const enqueued = performance.now();
  // One receive loop bounded by `concurrency`, like the core's consumer, minus its bookkeeping.
  const signal = new AbortController().signal;
  const decoder = new TextDecoder();
  let done = 0;
  let inflight = 0;
  let wake;
  while (done < count) {
    const free = concurrency - inflight;
    if (free <= 0) {
      await new Promise((resolve) => {
        wake = resolve;
      });
      continue;
    }
    const got = await driver.receive(name, { max: free, waitMs: 100, lockMs: 30_000, signal });
    for (const delivery of got) {
      inflight++;
      JSON.parse(decoder.decode(delivery.body));
      delivery.ack().then(() => {
        inflight--;
        done++;
        wake?.();
      });
    }
  }
  const processed = performance.now();
  await driver.deleteQueue(name).catch(() => undefined);
  await driver.close();
  const used = process.cpuUsage(cpu);
  return {
    enqueueMs: enqueued - started,
    processMs: processed - enqueued,
    cpuUs: (used.user + used.system) / count,
  };
}

const rate = (ms) => Math.round((jobs * 1000) / ms);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function summary(results) {
  const enqueueMs = median(results.map((r) => r.enqueueMs));
  const processMs = median(results.map((r) => r.processMs));
  const totalMs = median(results.map((r) => r.enqueueMs + r.processMs));
  return {
    enqueue: rate(enqueueMs),
    process: rate(processMs),
    total: rate(totalMs),
    cpuUs: median(results.map((r) => r.cpuUs)),
    redisUs: median(results.map((r) => r.redisUs)),
  };
}

function line(label, s) {
  const n = (value) => String(value).padStart(6);
  return `${label.padEnd(30)} enqueue ${n(s.enqueue)} jobs/s   process ${n(s.process)} jobs/s   end-to-end ${n(s.total)} jobs/s   Node CPU ${s.cpuUs.toFixed(0).padStart(3)} us/job   Redis CPU ${s.redisUs.toFixed(0).padStart(3)} us/job`;
}

const sides = [
  ['bullmq (Worker defaults)', (count) => native(count, NATIVE.defaults)],
  ['bullmq, same work as queuekit', (count) => native(count, NATIVE.sameWork)],
  ['bullmq, completed deleted', (count) => native(count, NATIVE.deleted)],
  ['queuekit', (count) => queuekit(count)],
  ['queuekit, keepCompletedMs 0', (count) => queuekit(count, { keepCompletedMs: 0 })],
  ['queuekit driver alone', (count) => driverOnly(count)],
];

const cpus = os.cpus();
console.log(
  `${jobs} jobs x ${rounds} rounds (median), concurrency ${concurrency}, batches of ${batch}; Node ${process.version}, ${cpus.length} CPUs (${cpus[0]?.model ?? 'unknown'}), load ${os.loadavg()[0].toFixed(2)}`,
);
// Warm up every path (script loading, JIT) before measuring.
for (const [, run] of sides) await run(500);
const results = sides.map(() => []);
for (let round = 0; round < rounds; round++)
  for (const [index, [, run]] of sides.entries()) results[index].push(await measured(() => run(jobs)));
const s = results.map(summary);
for (const [index, [label]] of sides.entries()) console.log(line(label, s[index]));
const ratio = (a, b) => (a / b).toFixed(2);
const compare = (label, ours, theirs) =>
  console.log(
    `ratio ${label}: enqueue ${ratio(ours.enqueue, theirs.enqueue)}x, process ${ratio(ours.process, theirs.process)}x, end-to-end ${ratio(ours.total, theirs.total)}x`,
  );
const [defaults, sameWork, deleted, ours, unkept, bare] = s;
compare('queuekit / bullmq (Worker defaults)', ours, defaults);
compare('queuekit / bullmq doing the same work', ours, sameWork);
compare('queuekit keepCompletedMs 0 / bullmq deleting completed jobs', unkept, deleted);
compare('driver alone / bullmq doing the same work', bare, sameWork);
console.log(`machine load after the run: ${os.loadavg()[0].toFixed(2)}`);
probe.disconnect();
