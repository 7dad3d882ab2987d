import type { Delivery } from '../driver.js';
import type { LockLostError } from '../errors.js';
import type { RateLimiter } from '../workflows/rate-limit.js';
import { abortableDelay } from '../timers.js';
import { UnstartedHold } from './unstarted-hold.js';

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
  private readonly hold: UnstartedHold;

  constructor(
    private readonly limiter: RateLimiter | undefined,
    private readonly native: boolean,
    lockMs: number,
    private readonly stopping: AbortSignal,
    private readonly onError: (error: unknown) => void,
    /** A held delivery's renewal failed: it was given up (see {@link UnstartedHold}). */
    onLost?: (delivery: Delivery, error: LockLostError) => void,
  ) {
    this.hold = new UnstartedHold(lockMs, onLost);
  }

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
   * they start in; the others wait for later windows in the {@link UnstartedHold}, their locks kept (a
   * rate-limit window may be far longer than the lock; one whose renewal fails is given up, not
   * started). On shutdown the rest are started anyway (they are already held: draining them beats
   * redelivering them as a new attempt). `start(delivery, lockedAt)` hands one over to the consumer.
   */
  async admitLate(
    deliveries: readonly Delivery[],
    receivedAt: number,
    start: (delivery: Delivery, lockedAt: number) => void,
  ): Promise<void> {
    const waiting = this.hold.keep(deliveries, receivedAt);
    const limiter = this.limiter;
    while (waiting.size > 0) {
      if (this.stopping.aborted || !limiter) break;
      const { granted, windowEndsAt } = await limiter.acquire(waiting.size);
      const lockedAt = waiting.lockedAt;
      for (const delivery of waiting.take(granted)) start(delivery, lockedAt);
      if (waiting.size === 0) return;
      await abortableDelay(Math.max(1, windowEndsAt - Date.now()), this.stopping);
    }
    const lockedAt = waiting.lockedAt;
    for (const delivery of waiting.take(waiting.size)) start(delivery, lockedAt);
  }
}
