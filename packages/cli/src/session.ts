import {
  QueuekitError,
  createQueue,
  type Driver,
  driverFromUrl,
  type Queue,
  type Store,
  TimeoutError,
} from '@queuekit/core';
import { registerAdapters } from './adapters.js';
import { UsageError } from './args.js';

/** Ctrl-C while a command waits. */
export class InterruptedError extends Error {
  constructor() {
    super('interrupted');
    this.name = 'InterruptedError';
  }
}

/** Configuration errors raised while building the driver from the URL (so they are reported as URL errors). */
export const urlErrors = new WeakSet<object>();

/** Errors raised by store calls (so they name the store, not the broker). */
export const storeErrors = new WeakSet<object>();

/** How a session reaches the broker (and, optionally, the shared store). */
export interface SessionOptions {
  /** Queue URL, secrets included (never printed as is). */
  readonly url: string;
  /** Store URL (`redis://`, `rediss://`) where schedules and job records live. */
  readonly storeUrl?: string;
  /** Key prefix of that store (default: the store's own). */
  readonly storePrefix?: string;
  /** Longest wait for any single bounded broker call, ms. */
  readonly timeoutMs: number;
  /** Aborted on Ctrl-C. */
  readonly signal?: AbortSignal;
}

/** Longest wait for closing connections when a command ends. */
const CLOSE_BUDGET_MS = 3_000;

/** Race `work` against a timeout and the interrupt signal. */
export function bounded<T>(
  work: Promise<T>,
  timeoutMs: number,
  what: string,
  signal?: AbortSignal,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(new InterruptedError());
  return new Promise<T>((resolve, reject) => {
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            cleanup();
            reject(new TimeoutError(`no answer ${what} within ${timeoutMs} ms`));
          }, timeoutMs)
        : undefined;
    const onAbort = () => {
      cleanup();
      reject(new InterruptedError());
    };
    const cleanup = () => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
  });
}

/**
 * One connection to the broker (one driver) shared by the queues a command touches, plus the
 * optional store. Every bounded call fails with a TimeoutError instead of hanging on a broker
 * that is down.
 */
export class Session {
  private driverPromise: Promise<Driver> | undefined;
  private storePromise: Promise<Store | undefined> | undefined;
  private readonly queues: Queue[] = [];

  constructor(readonly options: SessionOptions) {
    registerAdapters();
  }

  /** The driver for the URL, created on first use (within the timeout). */
  driver(): Promise<Driver> {
    this.driverPromise ??= bounded(
      driverFromUrl(this.options.url).catch((error: unknown) => {
        if (QueuekitError.is(error, 'ERR_CONFIG')) urlErrors.add(error);
        throw error;
      }),
      this.options.timeoutMs,
      'from the broker',
    );
    return this.driverPromise;
  }

  /** The store given with `--store`, connected on first use; undefined without one. */
  store(): Promise<Store | undefined> {
    this.storePromise ??= this.openStore();
    return this.storePromise;
  }

  private async openStore(): Promise<Store | undefined> {
    const url = this.options.storeUrl;
    if (!url) return undefined;
    if (!/^rediss?:\/\//i.test(url.trim())) {
      throw new UsageError('--store supports redis:// and rediss:// URLs (@queuekit/store-redis)');
    }
    const { createRedisStore } = await import('@queuekit/store-redis');
    return createRedisStore({
      url,
      ...(this.options.storePrefix !== undefined ? { prefix: this.options.storePrefix } : {}),
    });
  }

  /** A queue object on the shared driver (and store). */
  async queue(name: string): Promise<Queue> {
    const [driver, store] = await Promise.all([this.driver(), this.store()]);
    const queue = createQueue({ name, driver, ownsDriver: false, ...(store ? { store } : {}) });
    this.queues.push(queue);
    return queue;
  }

  /** A queue object for the store only (schedules): it never touches the broker. */
  async storeQueue(name: string): Promise<Queue> {
    const store = await this.store();
    if (!store) {
      throw new UsageError(
        'schedules live in the queue store: pass --store redis://HOST:6379 (or set QUEUE_STORE_URL) ' +
          'to the store your workers use',
      );
    }
    // The memory driver is never called by `schedules.list()`; it only satisfies the constructor.
    const queue = createQueue({ name, url: 'memory://queuekit-cli', store });
    this.queues.push(queue);
    return queue;
  }

  /** Run one broker (or store) call, bounded by the timeout and Ctrl-C. */
  call<T>(work: () => Promise<T>, target: 'broker' | 'store' = 'broker'): Promise<T> {
    const running = bounded(
      Promise.resolve().then(work),
      this.options.timeoutMs,
      `from the ${target}`,
      this.options.signal,
    );
    if (target === 'broker') return running;
    return running.catch((error: unknown) => {
      if (typeof error === 'object' && error !== null) storeErrors.add(error);
      throw error;
    });
  }

  /** Run a long broker call (a big redrive or purge): no timeout, only Ctrl-C. */
  long<T>(work: () => Promise<T>): Promise<T> {
    return bounded(Promise.resolve().then(work), 0, '', this.options.signal);
  }

  /** Close queues, driver and store, waiting at most a few seconds (a dead broker must not hang the exit). */
  async close(): Promise<void> {
    const closing = (async () => {
      await Promise.allSettled(this.queues.map((queue) => queue.close({ timeout: 1_000 })));
      const [driver, store] = await Promise.all([
        this.driverPromise?.catch(() => undefined),
        this.storePromise?.catch(() => undefined),
      ]);
      await Promise.allSettled([driver?.close(), store?.close()]);
    })();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      closing,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CLOSE_BUDGET_MS);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }
}
