import { randomUUID } from 'node:crypto';
import type { CrashWorkerOptions } from './crash.js';
import {
  createQueue,
  type Driver,
  MemoryStore,
  PriorityBands,
  type Queue,
  type QueueOptions,
  type Store,
} from '@queuekit/core';

/** Options of {@link describeConformance}. */
export interface ConformanceOptions {
  /**
   * Shortest lock (visibility timeout / ack deadline) the broker honours, in ms. Crash and
   * lock-extension cases wait about this long. Default 1000.
   */
  readonly lockMs?: number;
  /** Multiplies every case's deadline (slow emulators). Default 1. */
  readonly timeScale?: number;
  /** Prefix of the queue names the suite creates. Default `qkc`. */
  readonly queuePrefix?: string;
  /** Extra cleanup per queue name created, after the suite's own `deleteQueue`. */
  readonly cleanup?: (queue: string) => Promise<void>;
  /** The store shared by every queue of the suite (job records, schedules, rate limits). Default: one MemoryStore. */
  readonly store?: Store;
  /**
   * How a worker in a child process builds a driver to this broker, for the crash cases (the child SIGKILLs
   * itself mid-job). Without it the crash cases run in-process: a worker abandons its delivery unsettled and
   * drops its connection, which is all a drivers-in-one-process broker (memory) can show.
   */
  readonly crashWorker?: CrashWorkerOptions;
  /**
   * Reach the broker through a TCP proxy the suite can pause: `target` is the broker's address, `url` the
   * queue URL (`createQueue({ url })`) that connects to the proxy's address instead. Without it, the
   * unreachable-broker case wraps a driver whose calls fail with BrokerUnavailableError until it is reachable.
   */
  readonly viaProxy?: {
    readonly target: { readonly host: string; readonly port: number };
    url(address: { readonly host: string; readonly port: number }): string;
  };
  /** The adapter's own Queue-level cases, registered inside the suite with its harness (cleaned up like the rest). */
  readonly additionalTests?: (h: Harness) => void;
}

/** Which events of a queue a case expects; any other `failed` or `error` event fails the case. */
export interface Expected {
  /** The handler throws on purpose: `failed` events are expected (or those this accepts). */
  readonly failures?: boolean | ((error: Error) => boolean);
  /** `error` events are expected (or those this accepts). */
  readonly errors?: boolean | ((error: Error) => boolean);
  /** Give the queue no `store` option: it gets the core's default, as an application that passes none. */
  readonly defaultStore?: boolean;
}

/** Everything a case needs: fresh names, drivers and queues, cleaned up after each case. */
export interface Harness {
  readonly lockMs: number;
  readonly capabilities: Driver['capabilities'];
  readonly provider: string;
  /** The store every queue of the suite shares, as processes of one application would. */
  readonly store: Store;
  /** Deadline for one case, in ms. */
  timeout(baseMs: number): number;
  /** A queue name unique to this run. */
  queueName(): string;
  /** A new driver (a new connection), closed after the case. */
  driver(): Promise<Driver>;
  /** The suite's options, as the adapter gave them. */
  readonly options: ConformanceOptions;
  /** A new driver from the adapter's factory, not closed by the harness. */
  makeDriver(): Promise<Driver>;
  /**
   * A queue on a new driver of its own (closed with it). Several queues with one name share the broker
   * queue. Its `failed` and `error` events fail the case unless `expected` says they are part of it.
   */
  queue<T>(
    name: string,
    options?: Omit<QueueOptions<T>, 'name' | 'driver' | 'url'>,
    expected?: Expected,
  ): Promise<Queue<T>>;
  /** A queue on `driver` (or a URL) made by the case, watched and closed like the others. */
  adopt<T>(queue: Queue<T>, expected?: Expected): Queue<T>;
  /** Record a problem seen where no assertion can run (inside a handler, a listener): it fails the case. */
  problem(message: string): void;
  /** Close every queue and driver made by the case, delete its queues, then fail on unexpected events. */
  cleanup(): Promise<void>;
}

/** Poll `check` until it returns a truthy value or `timeoutMs` passes (then throw with `what`). */
export async function until<R>(
  what: string,
  timeoutMs: number,
  check: () => R | Promise<R>,
  intervalMs = 20,
): Promise<NonNullable<R>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<R>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A promise with its resolve function exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Build the harness for one driver factory. `capabilities` come from a probe driver. */
export function createHarness(
  makeDriver: () => Driver | Promise<Driver>,
  probe: Driver,
  options: ConformanceOptions,
): Harness {
  const lockMs = options.lockMs ?? 1000;
  const scale = options.timeScale ?? 1;
  const prefix = options.queuePrefix ?? 'qkc';
  const run = randomUUID().slice(0, 8);
  let counter = 0;
  let drivers: Driver[] = [];
  let queues: Queue<unknown>[] = [];
  let names: string[] = [];
  // Events are recorded into the current case's list; a queue closing late reports into a dropped one.
  let current: { problems: string[] } = { problems: [] };

  const accepts = (rule: Expected['failures'], error: Error) =>
    typeof rule === 'function' ? rule(error) : rule === true;
  const watch = <T>(queue: Queue<T>, expected: Expected) => {
    const { problems } = current;
    queue.on('failed', (job, error) => {
      if (!accepts(expected.failures, error))
        problems.push(`unexpected 'failed' of ${job.name} (attempt ${job.attempt}): ${error.message}`);
    });
    queue.on('error', (error) => {
      if (!accepts(expected.errors, error)) problems.push(`unexpected 'error': ${error.message}`);
    });
    queues.push(queue as Queue<unknown>);
    return queue;
  };

  const harness: Harness = {
    lockMs,
    capabilities: probe.capabilities,
    provider: probe.provider,
    store: options.store ?? new MemoryStore(),
    options,
    timeout: (baseMs) => Math.round(baseMs * scale),
    makeDriver: async () => makeDriver(),
    adopt: (queue, expected = {}) => watch(queue, expected),
    problem(message) {
      current.problems.push(message);
    },
    queueName() {
      const name = `${prefix}-${run}-${++counter}`;
      names.push(name);
      return name;
    },
    async driver() {
      const driver = await makeDriver();
      drivers.push(driver);
      return driver;
    },
    async queue<T>(
      name: string,
      queueOptions: Omit<QueueOptions<T>, 'name' | 'driver' | 'url'> = {},
      expected: Expected = {},
    ) {
      const driver = await harness.driver();
      const store = expected.defaultStore ? {} : { store: harness.store };
      return watch(createQueue<T>({ ...store, ...queueOptions, name, driver, ownsDriver: true }), expected);
    },
    async cleanup() {
      const [toClose, toDrop, toDelete] = [queues, drivers, names];
      queues = [];
      drivers = [];
      names = [];
      // Events from here on come from the harness closing the case's queues (with timeout 0), not from the case.
      const seen = [...current.problems];
      current = { problems: [] };
      await Promise.allSettled(toClose.map((queue) => queue.close({ timeout: 0 })));
      await Promise.allSettled(toDrop.map((driver) => driver.close()));
      const admin = await makeDriver();
      try {
        for (const name of toDelete) {
          // Every band queue of an emulated priority, strict queues' cases included.
          for (const queue of new PriorityBands(admin, name).queues)
            await admin.deleteQueue?.(queue).catch(() => undefined);
          await options.cleanup?.(name);
        }
      } finally {
        await admin.close();
      }
      // The handler's own expectations and the consumer's errors: an `expect` in a handler only fails a job.
      if (seen.length > 0)
        throw new Error(`The case saw ${seen.length} unexpected event(s):\n${seen.join('\n')}`);
    },
  };
  return harness;
}
