import { createQueue, type Driver, type Queue, settlesWithin } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type ConformanceOptions, createHarness, type Harness, until } from '../harness.js';
import { type NetworkFaults, startTcpProxy } from '../proxy.js';
import { simulatedNetwork } from '../simulated-network.js';
import { quietFor } from './locks.js';

/**
 * The longest a send may take to settle (resolve or fail) under any fault here: a driver's own request
 * timeout must be shorter. Documented in the conformance README.
 */
export const SEND_BOUND_MS = 30_000;
/** Error codes a send that failed during a fault may carry. */
const FAULT_CODES = ['ERR_BROKER_UNAVAILABLE', 'ERR_TIMEOUT'];
/** Every how many jobs one is sent with {@link DELAY_MS}. */
const DELAYED_EVERY = 4;
const DELAY_MS = 400;

/** Faults between a driver and its broker: a TCP proxy where the broker has an address, else simulated. */
export interface FaultTarget {
  readonly faults: NetworkFaults;
  /** A queue on a new connection through the faults, watched by the harness (errors expected). */
  queue<T>(name: string): Promise<Queue<T>>;
  close(): Promise<void>;
}

/** Options of {@link faultCases} beyond the harness's. */
export interface FaultCaseOptions {
  /**
   * A driver connected to `address` instead of the broker (`viaProxy.target`), for brokers whose client is
   * pointed elsewhere than through a URL (an endpoint option, an emulator host). Else `viaProxy.url`.
   */
  readonly driverVia?: (address: {
    readonly host: string;
    readonly port: number;
  }) => Driver | Promise<Driver>;
}

async function faultTarget(h: Harness, options: FaultCaseOptions): Promise<FaultTarget> {
  const via = h.options.viaProxy;
  const made: Queue<unknown>[] = [];
  const track = <T>(queue: Queue<T>) => {
    made.push(queue as Queue<unknown>);
    return h.adopt(queue, { errors: true });
  };
  if (via) {
    const proxy = await startTcpProxy(via.target);
    return {
      faults: proxy,
      async queue<T>(name: string) {
        const address = { host: proxy.host, port: proxy.port };
        const driver = options.driverVia ? await options.driverVia(address) : undefined;
        return track(
          driver
            ? createQueue<T>({ name, driver, ownsDriver: true, store: h.store })
            : createQueue<T>({ name, url: via.url(address), store: h.store }),
        );
      },
      async close() {
        // Healthy again, every queue closes before its proxy goes away.
        proxy.heal();
        await closeAll(h, made);
        await proxy.close();
      },
    };
  }
  const network = simulatedNetwork();
  return {
    faults: network,
    async queue<T>(name: string) {
      const driver = network.wrap(await h.driver());
      return track(createQueue<T>({ name, driver, store: h.store }));
    },
    async close() {
      network.heal();
      await closeAll(h, made);
    },
  };
}

const CLOSE_TIMEOUT_MS = 2000;

/** Close `queues` on a healthy network; one that does not return within a bound is a problem of the case. */
async function closeAll(h: Harness, queues: readonly Queue<unknown>[]): Promise<void> {
  const bound = CLOSE_TIMEOUT_MS + h.timeout(10_000);
  await Promise.all(
    queues.map(async (queue) => {
      if (!(await settlesWithin(queue.close({ timeout: CLOSE_TIMEOUT_MS }), bound)))
        h.problem(`close({ timeout: ${CLOSE_TIMEOUT_MS} }) of a queue did not return within ${bound} ms`);
    }),
  );
}

interface Sent {
  readonly seq: number;
  readonly delay: number;
  readonly startedAt: number;
  /** Undefined while the send is in flight. */
  outcome?: { readonly ok: true } | { readonly ok: false; readonly code: string; readonly message: string };
  settledAt?: number;
}

interface Run {
  readonly seq: number;
  readonly attempt: number;
  readonly at: number;
}

/** A producer sending one job at a time and a consumer recording every run, through `target`. */
async function steadyTraffic(h: Harness, target: FaultTarget, name: string) {
  const producer = await target.queue<{ seq: number }>(name);
  const consumer = await target.queue<{ seq: number }>(name);
  const sent: Sent[] = [];
  const runs: Run[] = [];
  const deadLettered: number[] = [];
  consumer.on('dead-lettered', (info) => deadLettered.push(info.job?.data.seq ?? -1));
  consumer.process(
    async (job) => {
      runs.push({ seq: job.data.seq, attempt: job.attempt, at: Date.now() });
    },
    { concurrency: 4, lockDuration: Math.max(h.lockMs, 1000) },
  );
  let stopped = false;
  let seq = 0;
  const loop = (async () => {
    while (!stopped) {
      const n = seq++;
      const delay = n % DELAYED_EVERY === DELAYED_EVERY - 1 ? DELAY_MS : 0;
      const entry: Sent = { seq: n, delay, startedAt: Date.now() };
      sent.push(entry);
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<'hung'>((resolve) => {
        timer = setTimeout(() => resolve('hung'), h.timeout(SEND_BOUND_MS));
      });
      const send = producer.send('tick', { seq: n }, delay ? { delay } : undefined).then(
        () => ({ ok: true }) as const,
        (error: Error & { code?: string }) =>
          ({ ok: false, code: String(error.code), message: error.message }) as const,
      );
      const outcome = await Promise.race([send, bound]);
      clearTimeout(timer);
      if (outcome === 'hung') {
        h.problem(`send #${n} did not settle within ${h.timeout(SEND_BOUND_MS)} ms`);
        return;
      }
      entry.outcome = outcome;
      entry.settledAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  })();
  const processed = (n: number) => runs.some((run) => run.seq === n);
  return {
    sent,
    runs,
    consumer,
    producer,
    /** Wait until `count` sends started from now on resolved and were processed. */
    async resolvedAndProcessed(count: number, what: string) {
      const from = Date.now();
      await until(what, h.timeout(60_000), () => {
        const fresh = sent.filter((s) => s.startedAt >= from && s.outcome?.ok);
        return fresh.filter((s) => processed(s.seq)).length >= count;
      });
    },
    async stop() {
      stopped = true;
      await loop;
    },
    /** Every resolved send processed, then the assertions every fault case shares. */
    async check(caseName: string) {
      const resolved = sent.filter((s) => s.outcome?.ok);
      await until('every resolved send to be processed', h.timeout(60_000), () =>
        resolved.every((s) => processed(s.seq)),
      );
      const failed = sent.filter((s) => s.outcome && !s.outcome.ok);
      for (const s of failed) {
        const outcome = s.outcome as { code: string; message: string };
        expect(FAULT_CODES, `send #${s.seq} failed with ${outcome.code}: ${outcome.message}`).toContain(
          outcome.code,
        );
      }
      const bySeq = new Map<number, Run[]>();
      for (const run of runs) bySeq.set(run.seq, [...(bySeq.get(run.seq) ?? []), run]);
      for (const s of sent) {
        for (const [index, run] of (bySeq.get(s.seq) ?? []).entries()) {
          // Never before its delay, counted from before the send call.
          expect(run.at, `job #${s.seq} ran before its delay`).toBeGreaterThanOrEqual(s.startedAt + s.delay);
          // The k-th run may be attempt k+1 at most: one delivery lost with a cut connection, not more.
          expect(run.attempt, `job #${s.seq} run ${index + 1}`).toBeLessThanOrEqual(index + 2);
        }
      }
      expect(deadLettered).toEqual([]);
      const duplicates = [...bySeq.values()].filter((list) => list.length > 1).length;
      const deliveredAfterFailure = failed.filter((s) => processed(s.seq)).length;
      console.info(
        `[faults] ${h.provider} ${caseName}: ${sent.length} sends (${resolved.length} resolved, ${failed.length} failed: ${[...new Set(failed.map((s) => (s.outcome as { code: string }).code))].join(', ') || 'none'}; slowest ${Math.max(0, ...sent.map((s) => (s.settledAt ?? s.startedAt) - s.startedAt))} ms), ${runs.length} runs, ${duplicates} job(s) run more than once, ${deliveredAfterFailure} failed send(s) delivered anyway`,
      );
    },
  };
}

/**
 * Broker and network faults with a steady producer and consumer: nothing that was sent is lost, failed
 * sends fail typed and bounded, the consumer resumes by itself, delays hold, attempts are not inflated.
 * Through a TCP proxy where the suite has `viaProxy`, else through a simulated network (memory).
 */
export function faultCases(h: Harness, options: FaultCaseOptions = {}): void {
  const underFault = (title: string, apply: (faults: NetworkFaults) => void, holdMs: number) =>
    it(title, async () => {
      const target = await faultTarget(h, options);
      try {
        const traffic = await steadyTraffic(h, target, h.queueName());
        try {
          await traffic.resolvedAndProcessed(5, 'traffic before the fault');
          apply(target.faults);
          if (holdMs > 0) await quietFor(holdMs);
          target.faults.heal();
          await traffic.resolvedAndProcessed(10, 'the consumer to resume after the fault');
        } finally {
          await traffic.stop();
        }
        await traffic.check(title);
      } finally {
        await target.close();
      }
    });

  underFault(
    'every connection reset mid-stream loses nothing sent and the consumer resumes',
    (f) => f.reset(),
    0,
  );
  underFault(
    'a broker unreachable for 4 s, then back, loses nothing sent and the consumer resumes',
    (f) => f.refuse(),
    4000,
  );
  underFault(
    'a black hole longer than a send timeout: sends fail typed or complete, bounded, and nothing sent is lost',
    (f) => f.blackhole(),
    8000,
  );
  underFault('200 ms of added latency each way loses nothing and keeps delays', (f) => f.latency(200), 3000);

  const outages = [
    { kind: 'unreachable broker', apply: (f: NetworkFaults) => f.refuse() },
    { kind: 'black hole', apply: (f: NetworkFaults) => f.blackhole() },
  ];
  for (const outage of outages) {
    it(`close() during an outage (${outage.kind}) returns within its timeout and loses nothing acknowledged`, async () => {
      const target = await faultTarget(h, options);
      try {
        const name = h.queueName();
        const traffic = await steadyTraffic(h, target, name);
        await traffic.resolvedAndProcessed(5, 'traffic before the outage');
        await traffic.stop();
        outage.apply(target.faults);
        const bound = CLOSE_TIMEOUT_MS + h.timeout(10_000);
        for (const queue of [traffic.consumer, traffic.producer]) {
          const closing = Date.now();
          const returned = await settlesWithin(queue.close({ timeout: CLOSE_TIMEOUT_MS }), bound);
          expect(
            returned,
            `close({ timeout: ${CLOSE_TIMEOUT_MS} }) still pending after ${Date.now() - closing} ms`,
          ).toBe(true);
        }
        target.faults.heal();
        // Whatever the first consumer had not acknowledged comes back to the next one.
        const next = await target.queue<{ seq: number }>(name);
        next.process(async (job) => {
          traffic.runs.push({ seq: job.data.seq, attempt: job.attempt, at: Date.now() });
        });
        await traffic.check(`close during an outage (${outage.kind})`);
      } finally {
        await target.close();
      }
    });
  }
}

/**
 * Register the fault cases alone (not yet part of {@link describeConformance}): an adapter's
 * `test/faults.test.ts` calls this with the same factory and options as its conformance file.
 */
export function describeFaultConformance(
  name: string,
  makeDriver: () => Driver | Promise<Driver>,
  options: ConformanceOptions & FaultCaseOptions = {},
): void {
  describe(`faults: ${name}`, async () => {
    const probe = await makeDriver();
    const h = createHarness(makeDriver, probe, options);
    await probe.close();
    afterEach(() => h.cleanup());
    faultCases(h, options);
  });
}
