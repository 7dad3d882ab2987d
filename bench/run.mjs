// pnpm bench: every adapter against its native client on the same broker, in one run.
// Per broker and round: native first, then queuekit, for each workload; medians over the rounds.
// Writes bench/results.json and regenerates docs/benchmarks.md from it.
//   BENCH_QUICK=1            one round, fewer jobs, 2 s latency runs (a smoke run of a few minutes)
//   BENCH_BROKERS=a,b        only these brokers (ids: memory,bullmq,rabbitmq,sqs,servicebus,pubsub); the rows
//                            of the others in results.json are kept
//   BENCH_ROUNDS, BENCH_JOBS override the mode's values
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import bullmq from './brokers/bullmq.mjs';
import memory from './brokers/memory.mjs';
import pubsub from './brokers/pubsub.mjs';
import rabbitmq from './brokers/rabbitmq.mjs';
import servicebus from './brokers/servicebus.mjs';
import sqs from './brokers/sqs.mjs';
import { machine, RESULTS, writeReport } from './report.mjs';
import { median } from './lib/stats.mjs';
import { endToEnd, enqueueThenDrain, latency } from './lib/workloads.mjs';

const ALL = [memory, bullmq, rabbitmq, sqs, servicebus, pubsub];
const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (QUICK ? 1 : 3));
const CONCURRENCY = 50;
const LATENCY_RATE = 500;
const LATENCY_SECONDS = QUICK ? 2 : 5;
const wanted = process.env.BENCH_BROKERS?.split(',').map((s) => s.trim());
const brokers = wanted ? ALL.filter((b) => wanted.includes(b.id)) : ALL;

const METRICS = [
  { key: 'enqueue', metric: 'enqueue', unit: 'jobs/s', better: 'higher' },
  { key: 'drain', metric: 'process (drain a backlog)', unit: 'jobs/s', better: 'higher' },
  { key: 'endToEnd', metric: 'end-to-end', unit: 'jobs/s', better: 'higher' },
  { key: 'p50', metric: `latency p50 at ${LATENCY_RATE}/s`, unit: 'ms', better: 'lower' },
  { key: 'p99', metric: `latency p99 at ${LATENCY_RATE}/s`, unit: 'ms', better: 'lower' },
  { key: 'nodeCpu', metric: 'Node CPU per job (enqueue + drain)', unit: 'µs', better: 'lower' },
  { key: 'brokerCpu', metric: 'broker CPU per job (enqueue + drain)', unit: 'µs', better: 'lower' },
];

async function bench(broker) {
  const jobs = Number(process.env.BENCH_JOBS ?? broker.jobs[QUICK ? 'quick' : 'full']);
  const load = Number(os.loadavg()[0].toFixed(2));
  const env = await broker.start();
  const brokerPid = env.brokerPid?.();
  const runs = { native: [], queuekit: [] };
  try {
    // Warm both paths (module loading, JIT, broker-side setup) before anything is timed.
    for (const side of ['native', 'queuekit']) await enqueueThenDrain(env[side], side, 500, CONCURRENCY);
    for (let round = 0; round < ROUNDS; round++) {
      const result = { native: {}, queuekit: {} };
      for (const side of ['native', 'queuekit'])
        Object.assign(result[side], await enqueueThenDrain(env[side], side, jobs, CONCURRENCY, brokerPid));
      for (const side of ['native', 'queuekit'])
        Object.assign(result[side], await endToEnd(env[side], side, jobs, CONCURRENCY));
      for (const side of ['native', 'queuekit'])
        Object.assign(
          result[side],
          await latency(env[side], side, LATENCY_RATE, LATENCY_SECONDS, CONCURRENCY),
        );
      for (const side of ['native', 'queuekit']) runs[side].push(result[side]);
      console.log(`  round ${round + 1}: ${describe(result)}`);
    }
  } finally {
    await env.stop();
  }
  const date = new Date().toISOString();
  const host = machine();
  const measured = METRICS.filter(({ key }) => runs.native.every((r) => r[key] !== undefined));
  return measured.map(({ key, metric, unit, better }) => {
    const native = median(runs.native.map((r) => r[key]));
    const queuekit = median(runs.queuekit.map((r) => r[key]));
    return {
      broker: broker.id,
      label: broker.label,
      metric,
      unit,
      better,
      native: round(native),
      queuekit: round(queuekit),
      ratio: native > 0 ? Number((queuekit / native).toFixed(2)) : null,
      rounds: ROUNDS,
      jobs,
      concurrency: CONCURRENCY,
      quick: QUICK,
      machine: host,
      load,
      node: process.version,
      date,
    };
  });
}

const round = (value) => (value >= 100 ? Math.round(value) : Number(value.toFixed(1)));
const cpuText = (r) =>
  `cpu ${Math.round(r.nodeCpu)}${r.brokerCpu === undefined ? '' : `+${Math.round(r.brokerCpu)}`} µs/job`;

function describe(result) {
  const show = (r) =>
    `enq ${Math.round(r.enqueue)} drain ${Math.round(r.drain)} e2e ${Math.round(r.endToEnd)} p50 ${r.p50.toFixed(1)} p99 ${r.p99.toFixed(1)} ${cpuText(r)}`;
  return `native [${show(result.native)}]  queuekit [${show(result.queuekit)}]`;
}

function previous() {
  try {
    return JSON.parse(readFileSync(RESULTS, 'utf8'));
  } catch {
    return { rows: [], scale: [] };
  }
}

const started = performance.now();
console.log(
  `pnpm bench${QUICK ? ' (quick)' : ''}: ${ROUNDS} round(s), concurrency ${CONCURRENCY}, ${machine()}, Node ${process.version}, load ${os.loadavg()[0].toFixed(2)}`,
);
const rows = [];
let failed = false;
for (const broker of brokers) {
  console.log(`${broker.label}`);
  try {
    rows.push(...(await bench(broker)));
  } catch (error) {
    failed = true;
    console.error(`  ${broker.label} failed: ${error.stack ?? error}`);
  }
}
const measured = new Set(rows.map((r) => r.broker));
const old = previous();
const results = {
  ...old,
  rows: [...old.rows.filter((r) => !measured.has(r.broker)), ...rows].sort(
    (a, b) => ALL.findIndex((x) => x.id === a.broker) - ALL.findIndex((x) => x.id === b.broker),
  ),
  how: Object.fromEntries(
    ALL.map((b) => [b.id, { label: b.label, nativeLabel: b.nativeLabel, native: b.native }]),
  ),
};
writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
writeReport(results);
for (const r of rows)
  console.log(
    `${r.label.padEnd(26)} ${r.metric.padEnd(26)} native ${String(r.native).padStart(8)}  queuekit ${String(r.queuekit).padStart(8)} ${r.unit.padEnd(7)} ratio ${r.ratio === null ? '-' : `${r.ratio.toFixed(2)}x`}`,
  );
console.log(
  `took ${((performance.now() - started) / 1000).toFixed(0)} s; wrote bench/results.json and docs/benchmarks.md`,
);
// Clients (gRPC, AMQP heartbeats) can keep the loop alive after close; the results are written.
process.exit(failed ? 1 : 0);
