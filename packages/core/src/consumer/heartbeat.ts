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

/** The heartbeat renews a lock once this fraction of it has run (2/3 of it is then left). */
const RENEW_AFTER = 1 / 3;
const MIN_RENEW_GAP_MS = 20;

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
    let controller: AbortController | undefined;
    let abortedWith: { reason: unknown } | undefined;
    let estimate = receivedAt + this.lockMs;
    const held: HeldDelivery = {
      delivery,
      queue,
      get signal() {
        if (!controller) {
          controller = new AbortController();
          if (abortedWith) controller.abort(abortedWith.reason);
        }
        return controller.signal;
      },
      get aborted() {
        return abortedWith !== undefined;
      },
      abort(reason) {
        if (abortedWith) return;
        abortedWith = { reason };
        controller?.abort(reason);
      },
      expiresAt: () => delivery.lockedUntil ?? estimate,
      span: Math.max(1, (delivery.lockedUntil ?? estimate) - receivedAt),
      renewing: false,
      renewedAt: 0,
      inHandler: false,
      extend: async () => {
        if (!delivery.extendLock) return;
        const startedAt = Date.now();
        held.renewing = true;
        held.renewedAt = startedAt;
        try {
          await delivery.extendLock(this.lockMs);
          estimate = startedAt + this.lockMs;
          held.span = Math.max(1, held.expiresAt() - startedAt);
          this.events.extended();
        } catch (error) {
          const lost = QueuekitError.is(error, 'ERR_LOCK_LOST')
            ? error
            : new LockLostError(errorMessage(error));
          this.lost(held, lost);
          throw lost;
        } finally {
          held.renewing = false;
          this.arm();
        }
      },
    };
    this.held.add(held);
    if (renews) this.armFor(held);
    return held;
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
