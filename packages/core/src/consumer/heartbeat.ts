import type { Delivery } from '../driver.js';
import { errorMessage, LockLostError, QueuekitError } from '../errors.js';
import { type SafeTimer, safeTimeout } from '../timers.js';

/** A delivery this consumer holds, from receipt until it is settled. */
export interface HeldDelivery {
  readonly delivery: Delivery;
  /** The physical queue it was received from. */
  readonly queue: string;
  /**
   * The job's signal: aborted when the lock is lost, a close times out, or the job's timeout elapses.
   * Made on first read (most handlers never read it): use `aborted` to test without making it.
   */
  readonly signal: AbortSignal;
  readonly aborted: boolean;
  /** Abort the job with `reason` (the first reason wins). */
  abort(reason: unknown): void;
  /** When the lock runs out, as far as this consumer knows (`delivery.lockedUntil` when the driver tells). */
  expiresAt(): number;
  /** Length of the lock last taken or renewed, in ms. */
  span: number;
  /** A renewal is in flight. */
  renewing: boolean;
  /** When the last renewal started (0 for none). */
  renewedAt: number;
  /** The handler is running (a lost lock is then reported as an error; during settlement, the settle call reports it). */
  inHandler: boolean;
  /** Renew the lock now; rejects (and aborts the job) when it is lost. */
  extend(): Promise<void>;
}

/** What the heartbeat tells its consumer. */
export interface HeartbeatEvents {
  extended(): void;
  /** A lock was lost: counted once per delivery. */
  lost(): void;
  /** A renewal failed while the handler ran. */
  error(error: Error): void;
}

/**
 * A lock is renewed once this fraction of it has run (2/3 of it is then left): by the heartbeat for
 * running jobs, and by `UnstartedHold` (unstarted-hold.ts) for deliveries not started yet.
 */
export const RENEW_AFTER = 1 / 3;
/** Least time between two renewals of one lock. */
export const MIN_RENEW_GAP_MS = 20;

/**
 * Keeps the locks of held deliveries (like BullMQ's LockManager): one consumer-wide timer, set for the
 * next renewal due among them. A lock counts from when it was taken (`lockedUntil`, else the start of
 * the receive call), so a delivery handed out late is renewed early.
 */
export class LockHeartbeat {
  private readonly held = new Set<HeldDelivery>();
  private timer: SafeTimer | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private stopped = false;

  constructor(
    private readonly lockMs: number,
    private readonly events: HeartbeatEvents,
  ) {}

  /** Start holding `delivery` (from `queue`); renewed by the timer when `renews` (the driver's `lockRenewal`). */
  hold(delivery: Delivery, queue: string, receivedAt: number, renews: boolean): HeldDelivery {
    const held = new Held(this, delivery, queue, receivedAt, this.lockMs);
    this.held.add(held);
    if (renews) this.armFor(held);
    return held;
  }

  /** A renewal went through. Internal to {@link Held}. */
  renewed(): void {
    this.events.extended();
  }

  /** A renewal ended either way: the next one is due at another time. Internal to {@link Held}. */
  rearm(): void {
    this.arm();
  }

  /** Stop holding `held` (it was settled, or abandoned). */
  letGo(held: HeldDelivery): void {
    this.held.delete(held);
    if (this.held.size === 0) this.clear();
  }

  /** Count a lost lock once and abort the job's signal with it. */
  lost(held: HeldDelivery, error: LockLostError): void {
    if (held.aborted) return;
    this.events.lost();
    held.abort(error);
  }

  /** Abandon every held delivery: no more renewals (the broker redelivers them), each job aborted with `reason`. */
  abandon(reason: Error): void {
    this.stopped = true;
    this.clear();
    for (const held of this.held) held.abort(reason);
  }

  /** When `held`'s lock is due for renewal, or Infinity when the heartbeat does not renew it. */
  private dueAt(held: HeldDelivery): number {
    if (held.renewing || held.aborted || !held.delivery.extendLock) return Number.POSITIVE_INFINITY;
    // The floor keeps a driver whose lock does not seem to move from being renewed in a tight loop.
    return Math.max(held.expiresAt() - held.span * (1 - RENEW_AFTER), held.renewedAt + MIN_RENEW_GAP_MS);
  }

  private arm(): void {
    if (this.stopped) {
      this.clear();
      return;
    }
    let next = Number.POSITIVE_INFINITY;
    for (const held of this.held) next = Math.min(next, this.dueAt(held));
    if (next === this.timerAt && this.timer) return;
    this.clear();
    if (next === Number.POSITIVE_INFINITY) return;
    this.timerAt = next;
    this.timer = safeTimeout(() => this.beat(), next - Date.now()).unref();
  }

  /** A new delivery can only bring the next renewal forward: no rescan of every held one. */
  private armFor(held: HeldDelivery): void {
    if (this.stopped) return;
    const due = this.dueAt(held);
    if (due >= this.timerAt) return;
    this.clear();
    this.timerAt = due;
    this.timer = safeTimeout(() => this.beat(), due - Date.now()).unref();
  }

  private beat(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    if (this.stopped) return;
    const now = Date.now();
    for (const held of this.held) {
      if (this.dueAt(held) > now) continue;
      held.extend().catch((error) => {
        // A renewal that races the settlement fails harmlessly (the settle call reports a real loss).
        if (held.inHandler) this.events.error(error as Error);
      });
    }
    this.arm();
  }

  private clear(): void {
    this.timer?.clear();
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }
}

/**
 * One held delivery. A class, not a literal with getters and closures: one is made for every job. The
 * job's AbortController is made only when something reads `signal`.
 */
class Held implements HeldDelivery {
  #controller: AbortController | undefined;
  #abortedWith: { reason: unknown } | undefined;
  #estimate: number;
  span: number;
  renewing = false;
  renewedAt = 0;
  inHandler = false;

  constructor(
    private readonly heartbeat: LockHeartbeat,
    readonly delivery: Delivery,
    readonly queue: string,
    receivedAt: number,
    private readonly lockMs: number,
  ) {
    this.#estimate = receivedAt + lockMs;
    this.span = Math.max(1, (delivery.lockedUntil ?? this.#estimate) - receivedAt);
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#abortedWith) this.#controller.abort(this.#abortedWith.reason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#abortedWith !== undefined;
  }

  abort(reason: unknown): void {
    if (this.#abortedWith) return;
    this.#abortedWith = { reason };
    this.#controller?.abort(reason);
  }

  expiresAt(): number {
    return this.delivery.lockedUntil ?? this.#estimate;
  }

  /** An arrow: handlers receive it detached (`ctx.extendLock`). */
  readonly extend = async (): Promise<void> => {
    const { delivery } = this;
    if (!delivery.extendLock) return;
    const startedAt = Date.now();
    this.renewing = true;
    this.renewedAt = startedAt;
    try {
      await delivery.extendLock(this.lockMs);
      this.#estimate = startedAt + this.lockMs;
      this.span = Math.max(1, this.expiresAt() - startedAt);
      this.heartbeat.renewed();
    } catch (error) {
      const lost = QueuekitError.is(error, 'ERR_LOCK_LOST') ? error : new LockLostError(errorMessage(error));
      this.heartbeat.lost(this, lost);
      throw lost;
    } finally {
      this.renewing = false;
      this.heartbeat.rearm();
    }
  };
}
