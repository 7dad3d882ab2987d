import type { Delivery } from '../driver.js';
import type { RateLimiter } from '../workflows/rate-limit.js';
import { abortableDelay } from '../timers.js';

/** Permits for a receive: how many jobs may start, and when the window they were counted in ends. */
export interface Permit {
  readonly allowed: number;
  readonly windowEndsAt: number;
}

/**
 * The store-based rate limit as the consumer applies it: permits before a receive, unused ones given
 * back, and deliveries that arrive after their window held (locks kept) until a window has room.
 * Without a limiter, or when the broker enforces the limit itself, every permit is granted.
 */
export class RateGate {
  constructor(
    private readonly limiter: RateLimiter | undefined,
    private readonly native: boolean,
    private readonly lockMs: number,
    private readonly stopping: AbortSignal,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Whether permits are counted here (a limiter the broker does not enforce itself). */
  get limited(): boolean {
    return this.active !== undefined;
  }

  private get active(): RateLimiter | undefined {
    return this.native ? undefined : this.limiter;
  }

  /** Permits for up to `wanted` jobs in the current rate-limit window (waits for the next window when 0). */
  async permits(wanted: number): Promise<Permit> {
    const limiter = this.active;
    if (!limiter) return { allowed: wanted, windowEndsAt: Number.POSITIVE_INFINITY };
    const { granted, windowEndsAt } = await limiter.acquire(wanted);
    if (granted === 0) await abortableDelay(Math.max(1, windowEndsAt - Date.now()), this.stopping);
    return { allowed: granted, windowEndsAt };
  }

  /** Return permits a receive did not use (a no-op without a limiter). */
  giveBack(count: number, windowEndsAt: number): void {
    const limiter = this.active;
    if (!limiter || windowEndsAt === Number.POSITIVE_INFINITY) return;
    limiter.release(count, windowEndsAt).catch(this.onError);
  }

  /**
   * Deliveries that arrived after their permits' window ended start only on permits of the window
   * they start in; the others wait for later windows, their locks kept. On shutdown the rest are
   * started anyway (they are already held: draining them beats redelivering them as a new attempt).
   * `start(delivery, lockedAt)` hands one over to the consumer.
   */
  async admitLate(
    deliveries: readonly Delivery[],
    receivedAt: number,
    start: (delivery: Delivery, lockedAt: number) => void,
  ): Promise<void> {
    const waiting = [...deliveries];
    let lockedAt = receivedAt;
    const limiter = this.limiter;
    while (waiting.length > 0) {
      if (this.stopping.aborted || !limiter) break;
      const { granted, windowEndsAt } = await limiter.acquire(waiting.length);
      for (const delivery of waiting.splice(0, granted)) start(delivery, lockedAt);
      if (waiting.length === 0) return;
      lockedAt = await this.holdUntil(waiting, windowEndsAt);
    }
    for (const delivery of waiting) start(delivery, lockedAt);
  }

  /**
   * Wait until `until` with `held` deliveries unstarted, renewing their locks every half lock so that
   * none expires however long the window (a rate-limit window may be far longer than the lock).
   * Resolves with when the locks were last renewed.
   */
  private async holdUntil(held: readonly Delivery[], until: number): Promise<number> {
    let renewedAt = Date.now();
    const renew = () => {
      renewedAt = Date.now();
      for (const delivery of held) delivery.extendLock?.(this.lockMs).catch(() => undefined);
    };
    renew();
    for (;;) {
      const left = until - Date.now();
      if (left <= 0 || this.stopping.aborted) return renewedAt;
      await abortableDelay(Math.max(1, Math.min(left, this.lockMs / 2)), this.stopping);
      if (until - Date.now() > 0) renew();
    }
  }
}
