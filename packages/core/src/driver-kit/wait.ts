import { safeTimeout } from '../timers.js';

/** Why a {@link Wakeup.wait} ended. */
export type WakeReason = 'woken' | 'timeout' | 'aborted';

/**
 * A wait that something else can end early: a receive loop long-polls with `wait` while a `send`, a
 * lock expiry or a close calls `wake`. Pass the `generation` read before checking for work to `wait`,
 * and a wake that came in between ends the wait at once, so no wake-up is lost.
 */
export class Wakeup {
  #generation = 0;
  readonly #waiters = new Set<(reason: WakeReason) => void>();

  /** Counts wakes; read it before looking for work. */
  get generation(): number {
    return this.#generation;
  }

  /** How many waits are pending. */
  get waiting(): number {
    return this.#waiters.size;
  }

  /** End every pending wait with `woken`. */
  wake(): void {
    this.#generation++;
    for (const waiter of [...this.#waiters]) waiter('woken');
  }

  /**
   * Resolve on the next `wake` (or at once if one happened since `since`), after `ms`, or when `signal`
   * aborts (at once if it already has). Never rejects.
   */
  wait(ms: number, signal?: AbortSignal, since?: number): Promise<WakeReason> {
    if (signal?.aborted) return Promise.resolve('aborted');
    if (since !== undefined && since !== this.#generation) return Promise.resolve('woken');
    return new Promise((resolve) => {
      const done = (reason: WakeReason) => {
        timer.clear();
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', onAbort);
        resolve(reason);
      };
      const onAbort = () => done('aborted');
      const timer = safeTimeout(() => done('timeout'), Math.max(0, ms));
      this.#waiters.add(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
