// node bench/scale.mjs (after `pnpm build`): the scale figures of docs/benchmarks.md, written into
// bench/results.json (`scale`) and the doc regenerated.
//   1. throughput with a 100,000-job backlog against a queue holding only the jobs measured
//   2. memory per waiting job on memory:// (heap after a forced GC, job records on and off)
//   3. consumer RSS while 1,000,000 jobs go through memory:// (records off, records with a 10 s TTL, defaults)
// SCALE_QUICK=1 shrinks every count by 10. SCALE_ONLY=backlog,memory,rss picks parts.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createMemoryDriver, createQueue, MemoryBroker } from '@queuekit/core';
import bullmq from './brokers/bullmq.mjs';
import memory from './brokers/memory.mjs';
import rabbitmq from './brokers/rabbitmq.mjs';
import { payload } from './lib/payload.mjs';
import { counter } from './lib/wait.mjs';
import { machine, RESULTS, writeReport } from './report.mjs';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const QUICK = process.env.SCALE_QUICK === '1';
const scaleDown = (n) => (QUICK ? n / 10 : n);
const only = process.env.SCALE_ONLY?.split(',');
const child = process.env.SCALE_RSS_CHILD;
const wants = (part) => child === undefined && (!only || only.includes(part));
const CONCURRENCY = 50;
const MEASURED = scaleDown(10_000);
const BACKLOG = scaleDown(100_000);
const rows = [];
const fmt = (n) => Math.round(n).toLocaleString('en-US');

async function fill(side, jobs) {
  for (let i = 0; i < jobs; i += 1_000) {
    await side.sendBatch(Array.from({ length: Math.min(1_000, jobs - i) }, (_, k) => payload(i + k)));
  }
}

/** Jobs/s for the first `MEASURED` completions from a queue that holds `waiting` jobs when the consumer starts. */
async function drainRate(open, waiting, label) {
  const side = await open(`scale-${label}-${waiting}-${Date.now().toString(36)}`);
  try {
    await fill(side, waiting);
    const done = counter();
    const t0 = performance.now();
    await side.consume(CONCURRENCY, () => undefined, done.bump);
    await done.reached(MEASURED, 600_000, `${label} drain from ${waiting}`);
    return (MEASURED * 1000) / (performance.now() - t0);
  } finally {
    await side.close();
  }
}

if (wants('backlog')) {
  for (const broker of [memory, rabbitmq, bullmq]) {
    const env = await broker.start();
    try {
      // The native client too (queuekit with records off on memory://): is a slowdown the broker's or ours?
      for (const side of ['native', 'queuekit']) {
        // A first drain warms the JIT and the connection, so neither measured run pays for them.
        await drainRate(env[side], MEASURED, `${broker.id}-${side}-warm-up`);
        const empty = await drainRate(env[side], MEASURED, `${broker.id}-${side}`);
        const full = await drainRate(env[side], BACKLOG + MEASURED, `${broker.id}-${side}`);
        const ratio = full / empty;
        const who = side === 'native' ? broker.nativeLabel : 'queuekit';
        console.log(
          `${broker.label}, ${who}: ${fmt(empty)} jobs/s from ${fmt(MEASURED)}, ${fmt(full)} with ${fmt(BACKLOG)} more waiting`,
        );
        rows.push({
          part: 'backlog',
          what: `${broker.label}, ${who}: drain rate with ${fmt(BACKLOG)} more jobs waiting / with none`,
          value: `${fmt(full)} / ${fmt(empty)} jobs/s = ${ratio.toFixed(2)}×`,
          note: `first ${fmt(MEASURED)} completions, concurrency ${CONCURRENCY}${side === 'queuekit' ? `; target ≥ 0.80× ${ratio >= 0.8 ? 'met' : 'not met'}` : ''}`,
        });
      }
    } finally {
      await env.stop();
    }
  }
}

function heap() {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

if (wants('memory')) {
  const jobs = scaleDown(100_000);
  for (const results of [true, false]) {
    const queue = createQueue({
      name: 'scale-memory',
      driver: createMemoryDriver({ broker: new MemoryBroker() }),
      ownsDriver: true,
      ...(results ? {} : { results: false }),
    });
    await queue.stats();
    const before = heap();
    await fill(
      { sendBatch: (items) => queue.sendBatch(items.map((data) => ({ name: 'bench', data }))) },
      jobs,
    );
    const perJob = (heap() - before) / jobs;
    console.log(`memory://, records ${results ? 'on' : 'off'}: ${fmt(perJob)} bytes of heap per waiting job`);
    rows.push({
      part: 'memory',
      what: `memory://: heap per waiting job, job records ${results ? 'on (default)' : 'off'}`,
      value: `${fmt(perJob)} bytes`,
      note: `${fmt(jobs)} jobs of ~150 bytes of JSON waiting, heap after GC`,
    });
    await queue.close();
  }
}

/** Pushes `total` jobs through one memory:// queue, keeping at most ~2,000 waiting, sampling RSS after GC. */
async function rssRun(label, queueOptions) {
  const total = scaleDown(1_000_000);
  const queue = createQueue({
    name: 'scale-rss',
    driver: createMemoryDriver({ broker: new MemoryBroker() }),
    ownsDriver: true,
    ...queueOptions,
  });
  const done = counter();
  queue.on('completed', done.bump);
  queue.process(async () => undefined, { concurrency: CONCURRENCY });
  const samples = [];
  const mib = () => process.memoryUsage().rss / 2 ** 20;
  const t0 = performance.now();
  for (let sent = 0; sent < total; ) {
    const items = Array.from({ length: 1_000 }, (_, k) => ({ name: 'bench', data: payload(sent + k) }));
    await queue.sendBatch(items);
    sent += items.length;
    if (sent - done.count > 2_000) await done.reached(sent - 1_000, 120_000, `${label} rss run`);
    if (sent % (total / 10) === 0) {
      gc();
      samples.push({ jobs: sent, rss: mib() });
    }
  }
  await done.reached(total, 120_000, `${label} rss run`);
  const seconds = (performance.now() - t0) / 1000;
  await queue.close();
  const first = samples[0];
  const last = samples.at(-1);
  console.log(
    `memory:// ${label}: RSS ${samples.map((s) => s.rss.toFixed(0)).join(' → ')} MiB over ${fmt(total)} jobs (${fmt(total / seconds)} jobs/s)`,
  );
  rows.push({
    part: 'rss',
    what: `memory:// consumer RSS over ${fmt(total)} jobs, ${label}`,
    value: `${first.rss.toFixed(0)} MiB after ${fmt(first.jobs)} → ${last.rss.toFixed(0)} MiB after ${fmt(last.jobs)}`,
    note: `samples every ${fmt(total / 10)}: ${samples.map((s) => s.rss.toFixed(0)).join(', ')} MiB; ${fmt(total / seconds)} jobs/s`,
  });
}

const RSS_RUNS = [
  ['job records off', { results: false }],
  ['job records on, 10 s TTL', { results: { ttl: 10_000 } }],
  ['defaults (job records on, kept 24 h)', {}],
];
if (child !== undefined) {
  // One RSS run in a fresh process, so that no earlier part's heap is in its figures.
  const [label, options] = RSS_RUNS[Number(child)];
  await rssRun(label, options);
  console.log(`ROW ${JSON.stringify(rows[0])}`);
  process.exit(0);
}
if (wants('rss')) {
  for (let i = 0; i < RSS_RUNS.length; i++) {
    const out = execFileSync(process.execPath, [process.argv[1]], {
      env: { ...process.env, SCALE_RSS_CHILD: String(i) },
      encoding: 'utf8',
      maxBuffer: 2 ** 24,
    });
    const row = out.split('\n').find((line) => line.startsWith('ROW '));
    process.stdout.write(
      out
        .split('\n')
        .filter((line) => !line.startsWith('ROW '))
        .join('\n'),
    );
    rows.push(JSON.parse(row.slice(4)));
  }
}

let results;
try {
  results = JSON.parse(readFileSync(RESULTS, 'utf8'));
} catch {
  results = { rows: [] };
}
// Rows of the parts measured now replace their old ones; the other parts' rows stay.
const kept = (results.scale ?? []).filter(
  (old) => old.part !== undefined && !rows.some((row) => row.part === old.part),
);
results.scale = [...kept, ...rows];
results.scaleMeasured = `${new Date().toISOString()}, ${machine()}, Node ${process.version}, load ${os.loadavg()[0].toFixed(2)}`;
writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
writeReport(results);
process.exit(0);
