import { randomUUID } from 'node:crypto';
import {
  createQueue,
  type Driver,
  MemoryStore,
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
  /** A queue on a new driver of its own (closed with it). Several queues with one name share the broker queue. */
  queue<T>(name: string, options?: Omit<QueueOptions<T>, 'name' | 'driver' | 'url'>): Promise<Queue<T>>;
  /** Close every queue and driver made by the case, and delete its queues. */
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

  const harness: Harness = {
    lockMs,
    capabilities: probe.capabilities,
    provider: probe.provider,
    store: options.store ?? new MemoryStore(),
    timeout: (baseMs) => Math.round(baseMs * scale),
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
    async queue<T>(name: string, queueOptions: Omit<QueueOptions<T>, 'name' | 'driver' | 'url'> = {}) {
      const driver = await harness.driver();
      const queue = createQueue<T>({ store: harness.store, ...queueOptions, name, driver, ownsDriver: true });
      queue.on('error', () => {
        // Transport errors during a case show up as failed assertions; keep the output quiet.
      });
      queues.push(queue as Queue<unknown>);
      return queue;
    },
    async cleanup() {
      const [toClose, toDrop, toDelete] = [queues, drivers, names];
      queues = [];
      drivers = [];
      names = [];
      await Promise.allSettled(toClose.map((queue) => queue.close({ timeout: 0 })));
      await Promise.allSettled(toDrop.map((driver) => driver.close()));
      const admin = await makeDriver();
      try {
        for (const name of toDelete) {
          const physical = [name];
          if (admin.capabilities.priority === 'emulated') {
            for (let band = 1; band <= 9; band++) {
              physical.push(
                admin.priorityQueueName ? admin.priorityQueueName(name, band) : `${name}-p${band}`,
              );
            }
          }
          for (const queue of physical) await admin.deleteQueue?.(queue).catch(() => undefined);
          await options.cleanup?.(name);
        }
      } finally {
        await admin.close();
      }
    },
  };
  return harness;
}
