// The three workloads every contender runs, each on a fresh queue that the contender declares before the clock starts.
import { cpuMeter } from './cpu.mjs';
import { payload } from './payload.mjs';
import { percentile } from './stats.mjs';
import { counter } from './wait.mjs';

const CHUNK = 1_000;
const noop = () => undefined;
let serial = 0;
const queueName = (side) => `bench-${side}-${process.pid}-${Date.now().toString(36)}-${serial++}`;
const perSecond = (jobs, ms) => (jobs * 1000) / ms;
/** Generous: a run that takes this long is broken, not slow. */
const deadlineFor = (jobs) => 60_000 + jobs * 5;

async function sendAll(side, jobs) {
  for (let i = 0; i < jobs; i += CHUNK) {
    const items = [];
    for (let j = i; j < Math.min(jobs, i + CHUNK); j++) items.push(payload(j));
    await side.sendBatch(items);
  }
}

/**
 * Enqueue `jobs` in chunks of 1,000 into an empty queue with no consumer (enqueue rate), then start a
 * consumer and drain that backlog (drain rate: the queue's throughput when work is waiting). Also the CPU
 * time per job of this process and of the broker's process (when it runs locally) over both phases.
 */
export async function enqueueThenDrain(open, label, jobs, concurrency, brokerPid) {
  const side = await open(queueName(label));
  try {
    const cpu = cpuMeter(brokerPid);
    const t0 = performance.now();
    await sendAll(side, jobs);
    const t1 = performance.now();
    const done = counter();
    await side.consume(concurrency, noop, done.bump);
    await done.reached(jobs, deadlineFor(jobs), `${label} drain`);
    const t2 = performance.now();
    return { enqueue: perSecond(jobs, t1 - t0), drain: perSecond(jobs, t2 - t1), ...cpu(jobs) };
  } finally {
    await side.close();
  }
}

/** A consumer already running while the producer sends `jobs` in chunks: first send to last job settled. */
export async function endToEnd(open, label, jobs, concurrency) {
  const side = await open(queueName(label));
  try {
    const done = counter();
    await side.consume(concurrency, noop, done.bump);
    const t0 = performance.now();
    await sendAll(side, jobs);
    await done.reached(jobs, deadlineFor(jobs), `${label} end-to-end`);
    return { endToEnd: perSecond(jobs, performance.now() - t0) };
  } finally {
    await side.close();
  }
}

/**
 * Single sends at a fixed `rate` per second for `seconds` to an idle running consumer; the latency of a job
 * is handler start minus the moment its send was called (same process, same clock).
 */
export async function latency(open, label, rate, seconds, concurrency) {
  const side = await open(queueName(label));
  try {
    const samples = [];
    const received = counter();
    await side.consume(
      concurrency,
      (data) => {
        if (data.t > 0) samples.push(performance.now() - data.t);
        received.bump();
      },
      noop,
    );
    // Warm the path (connections, first pull) before timing, then send on a fixed schedule.
    const WARM = 20;
    await Promise.all(Array.from({ length: WARM }, (_, i) => side.sendOne(payload(-1 - i))));
    await received.reached(WARM, deadlineFor(WARM), `${label} latency warm-up`);
    const total = Math.round(rate * seconds);
    const pending = [];
    const t0 = performance.now();
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000) + 1);
      while (sent < due) pending.push(side.sendOne(payload(sent++, performance.now())));
      await new Promise((resolve) => setTimeout(resolve, 1)); // the send clock's tick, not a wait for a result
    }
    await Promise.all(pending);
    await received.reached(WARM + total, deadlineFor(total), `${label} latency`);
    return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
  } finally {
    await side.close();
  }
}
