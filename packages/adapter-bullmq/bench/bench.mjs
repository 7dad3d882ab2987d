// pnpm bench: 10,000 small jobs through queuekit (this adapter) and through plain bullmq, on the same
// Redis, in one run. Both sides enqueue in batches of 1,000 and process with concurrency 50.
// The sides alternate for ROUNDS rounds and the median of each is reported, so that a burst of load
// from something else on the machine does not decide the ratio. "Node CPU" is the CPU time of this
// process per job (enqueue plus process, Redis not included): steadier than rates on a shared machine.
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

async function native(count, enableAutoPipelining = false) {
  const name = `native-${randomUUID().slice(0, 8)}`;
  const connection = new Redis(url, { maxRetriesPerRequest: null, enableAutoPipelining });
  const queue = new Queue(name, { connection, prefix });
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < count; i += batch) {
    const chunk = [];
    for (let j = i; j < Math.min(count, i + batch); j++)
      chunk.push({ name: 'job', data: payload(j), opts: { removeOnComplete: true } });
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
  const cpuUs = median(results.map((r) => r.cpuUs));
  return { enqueue: rate(enqueueMs), process: rate(processMs), total: rate(totalMs), cpuUs };
}

function line(label, s) {
  return `${label.padEnd(28)} enqueue ${String(s.enqueue).padStart(6)} jobs/s   process ${String(s.process).padStart(6)} jobs/s   end-to-end ${String(s.total).padStart(6)} jobs/s   Node CPU ${s.cpuUs.toFixed(0).padStart(3)} us/job`;
}

const cpus = os.cpus();
console.log(
  `${jobs} jobs x ${rounds} rounds (median), concurrency ${concurrency}, batches of ${batch}; Node ${process.version}, ${cpus.length} CPUs (${cpus[0]?.model ?? 'unknown'}), load ${os.loadavg()[0].toFixed(2)}`,
);
// Warm up every path (script loading, JIT) before measuring.
await native(500);
await native(500, true);
await queuekit(500);
await queuekit(500, { keepCompletedMs: 0 });
await driverOnly(500);
await driverOnly(500, { keepCompletedMs: 0 });
const plain = [];
const plainPipelined = [];
const ours = [];
const bare = [];
const unkept = [];
const bareUnkept = [];
for (let round = 0; round < rounds; round++) {
  plain.push(await native(jobs));
  ours.push(await queuekit(jobs));
  unkept.push(await queuekit(jobs, { keepCompletedMs: 0 }));
  plainPipelined.push(await native(jobs, true));
  bare.push(await driverOnly(jobs));
  bareUnkept.push(await driverOnly(jobs, { keepCompletedMs: 0 }));
}
const p = summary(plain);
const pp = summary(plainPipelined);
const q = summary(ours);
console.log(line('bullmq (defaults)', p));
console.log(line('bullmq + auto-pipelining', pp));
console.log(line('queuekit', q));
const u = summary(unkept);
console.log(line('queuekit, keepCompletedMs 0', u));
const d = summary(bare);
console.log(line('queuekit driver alone', d));
const du = summary(bareUnkept);
console.log(line('driver alone, keepCompl. 0', du));
const ratio = (a, b) => (a / b).toFixed(2);
console.log(
  `ratio queuekit / bullmq (defaults): enqueue ${ratio(q.enqueue, p.enqueue)}x, process ${ratio(q.process, p.process)}x, end-to-end ${ratio(q.total, p.total)}x`,
);
console.log(
  `ratio queuekit / bullmq + auto-pipelining: enqueue ${ratio(q.enqueue, pp.enqueue)}x, process ${ratio(q.process, pp.process)}x, end-to-end ${ratio(q.total, pp.total)}x`,
);
console.log(
  `ratio queuekit (completed jobs kept 24 h) / keepCompletedMs 0: enqueue ${ratio(q.enqueue, u.enqueue)}x, process ${ratio(q.process, u.process)}x, end-to-end ${ratio(q.total, u.total)}x, CPU ${ratio(q.cpuUs, u.cpuUs)}x`,
);
console.log(
  `ratio driver alone (completed jobs kept 24 h) / keepCompletedMs 0: enqueue ${ratio(d.enqueue, du.enqueue)}x, process ${ratio(d.process, du.process)}x, end-to-end ${ratio(d.total, du.total)}x, CPU ${ratio(d.cpuUs, du.cpuUs)}x`,
);
console.log(
  `ratio driver alone / bullmq (defaults): enqueue ${ratio(d.enqueue, p.enqueue)}x, process ${ratio(d.process, p.process)}x, end-to-end ${ratio(d.total, p.total)}x`,
);
console.log(`machine load after the run: ${os.loadavg()[0].toFixed(2)}`);
