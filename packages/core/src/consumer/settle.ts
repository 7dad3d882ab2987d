import type { Delivery, DeliveryRef, OutgoingMessage } from '../driver.js';
import { LockLostError, QueuekitError } from '../errors.js';
import { H } from '../headers.js';
import { firstHop, withDueTime } from '../semantics/delay.js';
import type { AttemptInfo } from '../semantics/attempts.js';
import { decideOutcome, type Outcome } from '../semantics/outcome.js';
import { abortableDelay } from '../timers.js';
import { capErrorText } from '../error-text.js';
import type { Job } from '../types.js';
import { deadLetter } from './dead-letter.js';
import type { HeldDelivery } from './heartbeat.js';
import { type ConsumerScope, recordJob, reportTo } from './scope.js';

/** Below this much lock left, a driver that cannot renew is treated as having lost it before a copy is sent. */
const LOCK_MARGIN_MS = 50;

/**
 * Carries out outcomes: retries (in place by the broker, in place by the consumer, or as a copy),
 * re-parks of early deliveries, and dead letters, each with its reports and job records.
 */
export class Settler<T> {
  constructor(private readonly scope: ConsumerScope<T>) {}

  /** A handler failed with `error`: decide what follows and do it. `rerun` runs the handler again in place. */
  async failed(
    held: HeldDelivery,
    job: Job<T>,
    info: AttemptInfo,
    error: Error,
    rerun: (job: Job<T>) => Promise<void>,
  ): Promise<void> {
    const { delivery } = held;
    const { driver, policy } = this.scope;
    reportTo(this.scope, { type: 'failed', job, error });
    const left = (delivery.lockedUntil ?? Number.POSITIVE_INFINITY) - Date.now();
    const outcome = decideOutcome(
      {
        attempt: job.attempt,
        maxAttempts: job.maxAttempts,
        backoff: info.backoff,
        orderingKey: delivery.orderingKey,
      },
      error,
      policy,
      {
        ...driver.capabilities,
        release: delivery.release !== undefined,
        extendLock: delivery.extendLock !== undefined,
        lockLeftMs: left,
        lockLost: held.aborted,
      },
    );
    return this.apply(held, job, error, outcome, rerun);
  }

  private async apply(
    held: HeldDelivery,
    job: Job<T>,
    error: Error,
    outcome: Outcome,
    rerun: (job: Job<T>) => Promise<void>,
  ): Promise<void> {
    if (outcome.kind === 'ack') return held.delivery.ack();
    if (outcome.kind === 'dead-letter') {
      const { reason, attempts } = outcome;
      return deadLetter(
        this.scope,
        held.delivery,
        job.name,
        { reason, error: outcome.error, attempts, ...stackOf(error) },
        job,
      );
    }
    const { delayMs, attempt, via } = outcome;
    reportTo(this.scope, { type: 'retrying', job, error, delayMs });
    await recordJob(this.scope, job.id, { state: 'retrying', error: error.message });
    if (via === 'release')
      return held.delivery.release?.(delayMs, { error: error.message, ...stackOf(error) });
    if (via === 'in-place') {
      const { forced } = this.scope;
      await abortableDelay(delayMs, forced);
      // Force-closed or lock lost while waiting: leave it to the broker's redelivery.
      if (forced.aborted || held.aborted) return;
      return rerun({ ...job, attempt });
    }
    return this.resend(held, delayMs, attempt);
  }

  /**
   * Re-send a copy (same id, no dedup) due after `delayMs` with attempt `attempt`, then ack the original.
   * Only while the lock is held: a copy sent for a lost lock would run beside the broker's redelivery.
   */
  async resend(held: HeldDelivery, delayMs: number, attempt: number): Promise<void> {
    if (!(await this.holdsLock(held))) return;
    const headers = withDueTime({ ...held.delivery.headers, [H.attempt]: String(attempt) }, delayMs);
    await this.replaceWithCopy(held, headers, delayMs);
  }

  /**
   * A delayed job arrived before its time (a hop): hidden again for the rest (or the next hop), by the
   * driver's `defer` where it has one (no delivery counted, no copy), else as a copy due then.
   */
  async park(held: HeldDelivery, attempt: number, remainingMs: number): Promise<void> {
    const { delivery } = held;
    const { driver, ctx } = this.scope;
    reportTo(this.scope, { type: 'delayed', id: delivery.id, remainingMs });
    if (delivery.defer) {
      try {
        await delivery.defer(firstHop(remainingMs, driver.capabilities, ctx.maxDelayHop));
      } catch (error) {
        if (!QueuekitError.is(error, 'ERR_LOCK_LOST')) throw error;
        // Not hidden: the broker hands it out again once the lock runs out, and it is parked then.
        this.scope.heartbeat.lost(held, error);
      }
      return;
    }
    if (!(await this.holdsLock(held))) return;
    await this.replaceWithCopy(held, { ...delivery.headers, [H.attempt]: String(attempt) }, remainingMs);
  }

  /**
   * Send the copy, then ack the original: in one atomic step where the driver offers it (`ackWith` with
   * `workflows.atomicFollowUps`, and no broker-kept job records that an ack would mark completed), so a
   * lost lock leaves neither rather than both. A copy sent on its own says which delivery it copies
   * (`copyOf`, contract v2), so a driver may replace the original in place.
   */
  private async replaceWithCopy(
    held: HeldDelivery,
    headers: Record<string, string>,
    delayMs: number,
  ): Promise<void> {
    const { delivery } = held;
    const { driver } = this.scope;
    const { queue, message } = this.copyOf(delivery, headers, delayMs);
    if (delivery.ackWith && driver.workflows?.atomicFollowUps && !driver.workflows.jobs) {
      try {
        await delivery.ackWith([{ queue, messages: [message] }]);
      } catch (error) {
        if (!QueuekitError.is(error, 'ERR_LOCK_LOST')) throw error;
        // Nothing was sent: the broker redelivers the original, which carries the next attempt.
        this.scope.heartbeat.lost(held, error);
      }
      return;
    }
    const copyOf: DeliveryRef = {
      queue: held.queue,
      id: delivery.id,
      ...(delivery.deliveryToken === undefined ? {} : { deliveryToken: delivery.deliveryToken }),
    };
    await driver.send(queue, [driver.apiVersion >= 2 ? { ...message, copyOf } : message]);
    await this.ackCopied(delivery);
  }

  /**
   * Whether this consumer still holds the delivery's lock, renewed where the driver can. When it does
   * not, the broker redelivers the original, and its delivery count carries the next attempt.
   */
  private async holdsLock(held: HeldDelivery): Promise<boolean> {
    const { delivery } = held;
    const left = (delivery.lockedUntil ?? Number.POSITIVE_INFINITY) - Date.now();
    if (left > 0 && this.scope.driver.capabilities.lockRenewal && delivery.extendLock) {
      return held.extend().then(
        () => true,
        () => false,
      );
    }
    if (left > LOCK_MARGIN_MS) return true;
    this.scope.heartbeat.lost(
      held,
      new LockLostError(`Lock of job ${delivery.id} ran out before its retry was sent`),
    );
    return false;
  }

  /** Ack an original whose copy was sent; a refusal means two live copies, which is reported and counted. */
  private async ackCopied(delivery: Delivery): Promise<void> {
    try {
      await delivery.ack();
    } catch (error) {
      if (!QueuekitError.is(error, 'ERR_LOCK_LOST')) throw error;
      reportTo(this.scope, {
        type: 'lock-lost',
        error: new LockLostError(
          `Lock of job ${delivery.id} was lost after its copy was sent: the broker may deliver it twice`,
        ),
      });
    }
  }

  /** A copy of `delivery` (same id, no dedup) with `headers`, due after `delayMs` (or its first hop). */
  private copyOf(
    delivery: Delivery,
    headers: Record<string, string>,
    delayMs: number,
  ): { queue: string; message: OutgoingMessage } {
    const { driver, ctx, bands } = this.scope;
    const hop = firstHop(delayMs, driver.capabilities, ctx.maxDelayHop);
    return {
      queue: bands.queueOfMessage(delivery),
      message: {
        id: delivery.id,
        name: delivery.name ?? headers[H.name] ?? 'default',
        body: delivery.body,
        headers,
        ...(hop > 0 ? { delayMs: hop } : {}),
        ...(delivery.priority !== undefined && driver.capabilities.priority === 'native'
          ? { priority: delivery.priority }
          : {}),
        ...(delivery.orderingKey === undefined ? {} : { orderingKey: delivery.orderingKey }),
      },
    };
  }
}

/** The error's stack, for drivers that store it with a retry or dead letter. */
function stackOf(error: Error): { stack?: string } {
  return typeof error.stack === 'string' ? { stack: capErrorText(error.stack) } : {};
}
