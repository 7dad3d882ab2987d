import type { Delivery } from '../driver.js';
import { errorMessage, LockLostError, QueuekitError } from '../errors.js';
import { type SafeTimer, safeTimeout } from '../timers.js';
import { MIN_RENEW_GAP_MS, RENEW_AFTER } from './heartbeat.js';

/** Deliveries received together and not started yet, as the {@link UnstartedHold} keeps them. */
export interface UnstartedBatch {
  /** How many are left to start. */
  readonly size: number;
  /** When the locks of those left were taken or last renewed (the start of the renewal call). */
  readonly lockedAt: number;
  /** Take up to `max` from the front to start them: from then on the heartbeat keeps their locks. */
  take(max: number): Delivery[];
}

/**
 * Holds unstarted deliveries: those taken from the broker that wait before their handler starts (kept
 * by a band's poll while every slot is busy, held back by the rate limit for a later window). One timer
 * renews their locks at the heartbeat's cadence, once a third of the lock has run since it was taken or
 * last renewed, so that none reaches its handler lost however long it waits (a redelivery would count
 * as an attempt). A delivery whose renewal fails is given up: dropped, never started, left to the
 * broker's redelivery (its lock is gone, and another consumer may hold it), and `lost` is told.
 */
export class UnstartedHold {
  private readonly batches = new Set<Batch>();
  private timer: SafeTimer | undefined;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly lockMs: number,
    private readonly lost: (delivery: Delivery, error: LockLostError) => void = () => undefined,
  ) {}

  /** Deliveries held, in every batch. */
  get size(): number {
    let size = 0;
    for (const batch of this.batches) size += batch.size;
    return size;
  }

  /** Hold `deliveries`, their locks taken (or last renewed) at `lockedAt`, until they are taken. */
  keep(deliveries: readonly Delivery[], lockedAt: number): UnstartedBatch {
    const batch = new Batch(this, [...deliveries], lockedAt);
    if (batch.size > 0) {
      this.batches.add(batch);
      this.arm();
    }
    return batch;
  }

  /** Renew nothing more: every batch is forgotten (their deliveries are left to the broker's redelivery). */
  clear(): void {
    this.batches.clear();
    this.arm();
  }

  /** A batch was emptied: nothing of it to renew. Internal to {@link Batch}. */
  forget(batch: Batch): void {
    this.batches.delete(batch);
    this.arm();
  }

  /** When `batch` is due for renewal, or Infinity when nothing of it can be renewed. */
  private dueAt(batch: Batch): number {
    if (batch.renewing || !batch.deliveries.some((delivery) => delivery.extendLock)) {
      return Number.POSITIVE_INFINITY;
    }
    // The floor keeps a lock that does not seem to move from being renewed in a tight loop.
    return Math.max(batch.lockedAt + this.lockMs * RENEW_AFTER, batch.renewedAt + MIN_RENEW_GAP_MS);
  }

  private arm(): void {
    let next = Number.POSITIVE_INFINITY;
    for (const batch of this.batches) next = Math.min(next, this.dueAt(batch));
    if (next === this.timerAt && this.timer) return;
    this.timer?.clear();
    this.timer = undefined;
    this.timerAt = next;
    if (next === Number.POSITIVE_INFINITY) return;
    this.timer = safeTimeout(() => this.beat(), next - Date.now()).unref();
  }

  private beat(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    for (const batch of this.batches) if (this.dueAt(batch) <= now) this.renew(batch);
    this.arm();
  }

  /** Renew every lock of `batch`; it counts as renewed when each one left in it was. */
  private renew(batch: Batch): void {
    const startedAt = Date.now();
    batch.renewing = true;
    batch.renewedAt = startedAt;
    const renewals = [...batch.deliveries].map(async (delivery) => {
      if (!delivery.extendLock) return false;
      try {
        await delivery.extendLock(this.lockMs);
        return true;
      } catch (error) {
        this.giveUp(batch, delivery, error);
        return true;
      }
    });
    void Promise.all(renewals).then((renewed) => {
      batch.renewing = false;
      if (renewed.every(Boolean)) batch.lockedAt = Math.max(batch.lockedAt, startedAt);
      if (this.batches.has(batch)) this.arm();
    });
  }

  /** A renewal failed: drop the delivery (unless it was taken meanwhile: the heartbeat holds it then). */
  private giveUp(batch: Batch, delivery: Delivery, error: unknown): void {
    if (!batch.drop(delivery)) return;
    const lost = QueuekitError.is(error, 'ERR_LOCK_LOST') ? error : new LockLostError(errorMessage(error));
    this.lost(delivery, lost);
  }
}

class Batch implements UnstartedBatch {
  renewing = false;
  /** When the last renewal started (0 for none). */
  renewedAt = 0;

  constructor(
    private readonly hold: UnstartedHold,
    readonly deliveries: Delivery[],
    public lockedAt: number,
  ) {}

  get size(): number {
    return this.deliveries.length;
  }

  take(max: number): Delivery[] {
    const taken = this.deliveries.splice(0, Math.max(0, max));
    if (taken.length > 0 && this.deliveries.length === 0) this.hold.forget(this);
    return taken;
  }

  /** Remove `delivery`; false when it is not held here (any more). */
  drop(delivery: Delivery): boolean {
    const at = this.deliveries.indexOf(delivery);
    if (at < 0) return false;
    this.deliveries.splice(at, 1);
    if (this.deliveries.length === 0) this.hold.forget(this);
    return true;
  }
}
