import type { Store } from './store/types.js';

/** A limit shared by every consumer of a queue (through the queue's store): at most `max` jobs per `duration` ms. */
export interface RateLimit {
  readonly max: number;
  readonly duration: number;
}

/** Fixed-window limiter over a shared store. */
export class RateLimiter {
  constructor(
    private readonly store: Store,
    private readonly queue: string,
    private readonly limit: RateLimit,
  ) {}

  /**
   * Take up to `wanted` permits in the current window. Resolves with how many were granted (possibly 0)
   * and when the window ends. Unused permits are not returned: the limit is never exceeded.
   */
  async acquire(wanted: number, now = Date.now()): Promise<{ granted: number; windowEndsAt: number }> {
    const window = Math.floor(now / this.limit.duration);
    const windowEndsAt = (window + 1) * this.limit.duration;
    const count = await this.store.increment(`qk:rate:${this.queue}:${window}`, wanted, {
      ttlMs: this.limit.duration * 2,
    });
    const before = count - wanted;
    const granted = Math.max(0, Math.min(wanted, this.limit.max - before));
    return { granted, windowEndsAt };
  }
}
