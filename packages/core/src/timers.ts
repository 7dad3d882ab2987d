import { setMaxListeners } from 'node:events';
/** Longest delay one Node.js timer honours: 2^31-1 ms (about 24.8 days). A longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

/** A timer from {@link safeTimeout}. */
export interface SafeTimer {
  /** Cancel it (idempotent). */
  clear(): void;
  /** Let the process exit while only this timer is pending. Returns the timer. */
  unref(): SafeTimer;
}

/**
 * `setTimeout` for any duration: delays past {@link MAX_TIMER_MS} are chained, `Infinity` never fires,
 * and negative or NaN delays fire on the next turn. Every timer in the core goes through it.
 */
export function safeTimeout(callback: () => void, ms: number): SafeTimer {
  const delay = Number.isNaN(ms) ? 0 : Math.max(0, ms);
  const dueAt = Date.now() + delay;
  let handle: NodeJS.Timeout | undefined;
  let unref = false;
  let cleared = false;
  const arm = () => {
    const left = dueAt - Date.now();
    handle = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(callback, Math.max(0, left));
    if (unref) handle.unref?.();
  };
  if (delay !== Number.POSITIVE_INFINITY) arm();
  const timer: SafeTimer = {
    clear() {
      cleared = true;
      clearTimeout(handle);
    },
    unref() {
      unref = true;
      if (!cleared) handle?.unref?.();
      return timer;
    },
  };
  return timer;
}

/** Resolve after `ms`, or at once when `signal` fires (never rejects). For polling loops and backoff waits. */
export function abortableDelay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      timer.clear();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = safeTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The controller of a driver's (or consumer's) lifetime: aborted once, on close. Every call in flight
 * links its own signal to it, so its abort listeners follow the calls outstanding (ten priority bands
 * long-polling, several queues on one driver): no "possible memory leak" warning past Node's default 10.
 */
export function lifetimeController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/** A signal that aborts when any of its sources does, and `dispose()` to detach it from them. */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  dispose(): void;
}

/**
 * Like `AbortSignal.any(signals)`, but with listeners that `dispose()` removes: `AbortSignal.any` called
 * once per receive on a long-lived signal keeps every composite alive (a leak on Node 20 and 22).
 */
export function linkSignals(...signals: readonly (AbortSignal | undefined)[]): LinkedSignal {
  const controller = new AbortController();
  const sources = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  const onAbort = (event: Event) => {
    dispose();
    controller.abort((event.target as AbortSignal).reason);
  };
  const dispose = () => {
    for (const source of sources) source.removeEventListener('abort', onAbort);
  };
  const already = sources.find((source) => source.aborted);
  if (already) controller.abort(already.reason);
  else for (const source of sources) source.addEventListener('abort', onAbort, { once: true });
  return { signal: controller.signal, dispose };
}

/** Resolves `true` once `work` settles, or `false` when `ms` pass first; never rejects (`work` runs on). */
export async function settlesWithin(work: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (work === undefined) return true;
  let timer: SafeTimer | undefined;
  const late = new Promise<false>((resolve) => {
    timer = safeTimeout(() => resolve(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    timer?.clear();
  }
}
