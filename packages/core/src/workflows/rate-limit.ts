import type { Store } from '../store/types.js';

/** A limit shared by every consumer of a queue (through the queue's store): at most `max` jobs per `duration` ms. */
export interface RateLimit {
  readonly max: number;
  readonly duration: number;
}

/**
 * Fixed-window limiter over a shared store. The window's counter holds the permits granted in it
 * (minus those given back), so `max` is never exceeded and permits nobody used can be granted again.
 */
export class RateLimiter {
  constructor(
    private readonly store: Store,
    private readonly queue: string,
    private readonly limit: RateLimit,
  ) {}

  private key(window: number): string {
    return `qk:rate:${this.queue}:${window}`;
  }

  /**
   * Take up to `wanted` permits in the current window. Resolves with how many were granted (possibly 0)
   * and when the window ends. What was asked beyond the grant is given back at once; give back granted
   * permits that end up unused (fewer jobs received) with {@link release}.
   */
  async acquire(wanted: number, now = Date.now()): Promise<{ granted: number; windowEndsAt: number }> {
    const window = Math.floor(now / this.limit.duration);
    const windowEndsAt = (window + 1) * this.limit.duration;
    if (wanted <= 0) return { granted: 0, windowEndsAt };
    const key = this.key(window);
    const count = await this.store.increment(key, wanted, { ttlMs: this.limit.duration * 2 });
    const before = count - wanted;
    const granted = Math.max(0, Math.min(wanted, this.limit.max - before));
    if (granted < wanted)
      await this.store.increment(key, granted - wanted, { ttlMs: this.limit.duration * 2 });
    return { granted, windowEndsAt };
  }

  /**
   * Give back `count` permits granted in the window ending at `windowEndsAt` (from {@link acquire}) that
   * were not used. No-op once that window is over (its permits are gone anyway) or for non-finite ends.
   */
  async release(count: number, windowEndsAt: number, now = Date.now()): Promise<void> {
    if (!(count > 0) || !Number.isFinite(windowEndsAt) || now >= windowEndsAt) return;
    const window = windowEndsAt / this.limit.duration - 1;
    await this.store.increment(this.key(window), -count, { ttlMs: this.limit.duration * 2 });
  }
}
