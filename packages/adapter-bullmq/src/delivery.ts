import {
  capErrorText,
  type DeadLetterInfo,
  type Delivery,
  LockLostError,
  type ReceivedMessage,
} from '@queuekit/core';
import type { Job } from 'bullmq';
import { toQueuekitError } from './errors.js';
import { DEAD_LETTER_FIELD, type DeadLetterRecord } from './job-mapping.js';
import type { QueueReceiver } from './receiver.js';

/** A BullMQ job taken under lock, with the settle operations of the `Delivery` contract. */
export class BullDelivery implements Delivery {
  readonly id: string;
  readonly name?: string;
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly deliveryCount: number;
  readonly enqueuedAt?: Date;
  readonly priority?: number;
  /** The BullMQ `Job`. */
  readonly raw: Job;
  private readonly token: string;
  #lockedUntil: number | undefined;

  /**
   * @param onSettled called once the delivery is settled (or its settle failed): the driver stops
   *   treating sends of this id as copies of a held job.
   */
  constructor(
    view: ReceivedMessage,
    private readonly job: Job,
    private readonly receiver: QueueReceiver,
    private onSettled: () => void = () => undefined,
  ) {
    this.id = view.id;
    if (view.name !== undefined) this.name = view.name;
    this.body = view.body;
    this.headers = view.headers;
    this.deliveryCount = view.deliveryCount;
    if (view.enqueuedAt !== undefined) this.enqueuedAt = view.enqueuedAt;
    if (view.priority !== undefined) this.priority = view.priority;
    this.raw = job;
    this.token = job.token ?? '';
    this.#lockedUntil = receiver.worker.lockedUntil(job);
  }

  /**
   * When the lock runs out (epoch ms): counted from just before the call that took it (the job may
   * have waited in the receiver's buffer since) or from the last `extendLock`.
   */
  get lockedUntil(): number | undefined {
    return this.#lockedUntil;
  }

  private settled(): void {
    const done = this.onSettled;
    this.onSettled = () => undefined;
    done();
  }

  /**
   * Complete the job with `result` as BullMQ's return value (kept for `getJob` as long as completed
   * jobs are kept; a value JSON cannot represent is stored as `null`). BullMQ locks the next job in
   * the same call for this consumer's next receive.
   */
  ack(result?: unknown): Promise<void> {
    return this.#settle(() => this.#complete(result));
  }

  async #complete(result: unknown): Promise<void> {
    try {
      const fetchNext = this.receiver.wantsNext;
      const calledAt = Date.now();
      const next = await this.job.moveToCompleted(storableResult(result), this.token, fetchNext);
      this.settled();
      if (fetchNext) await this.receiver.keepNext(next, this.token, calledAt);
    } catch (error) {
      this.settled();
      throw toQueuekitError(error, 'ack', this.id);
    }
  }

  /** Record the handler's progress on the job (BullMQ `updateProgress`). */
  async progress(value: unknown): Promise<void> {
    try {
      await this.job.updateProgress(value as Parameters<Job['updateProgress']>[0]);
    } catch (error) {
      throw toQueuekitError(error, 'progress', this.id);
    }
  }

  /** Move the job to BullMQ's failed set, with queuekit's record beside `failedReason`, atomically. */
  deadLetter(info: DeadLetterInfo): Promise<void> {
    return this.#settle(() => this.#fail(info));
  }

  async #fail(given: DeadLetterInfo): Promise<void> {
    // Stored in Redis as is: cut as the core cuts the error text of its job records.
    const info = given.error === undefined ? given : { ...given, error: capErrorText(given.error) };
    const record: DeadLetterRecord = { ...info, at: Date.now() };
    try {
      await this.receiver.worker.backend.moveToFailed(
        this.job,
        info.error ?? info.reason,
        false,
        this.token,
        false,
        {
          [DEAD_LETTER_FIELD]: JSON.stringify(record),
        },
      );
    } catch (error) {
      throw toQueuekitError(error, 'dead-letter', this.id);
    } finally {
      this.settled();
    }
  }

  /** Back to the queue after `delayMs` (BullMQ `moveToDelayed`); the next delivery counts one more. */
  release(delayMs: number): Promise<void> {
    return this.#settle(() => this.#delay(delayMs));
  }

  async #delay(delayMs: number): Promise<void> {
    try {
      await this.job.moveToDelayed(Date.now() + Math.max(0, delayMs), this.token);
    } catch (error) {
      throw toQueuekitError(error, 'release', this.id);
    } finally {
      this.settled();
    }
  }

  /** The first settle call in progress or done (ack, deadLetter, release). */
  #settling: Promise<void> | undefined;

  #settle(run: () => Promise<void>): Promise<void> {
    const settling = run();
    this.#settling ??= settling;
    return settling;
  }

  /**
   * Keep the lock for `ms` more from now. A renewal that meets a settlement (the job is being, or
   * has been, completed, failed or delayed, so BullMQ no longer has its lock) waits for it instead:
   * it resolves when the settlement did, and fails as the settlement failed.
   */
  async extendLock(ms: number): Promise<void> {
    if (this.#settling) return this.#settling;
    let extended: unknown;
    const duration = Math.max(1, Math.ceil(ms));
    const calledAt = Date.now();
    try {
      extended = await this.job.extendLock(this.token, duration);
    } catch (error) {
      if (this.#settling) return this.#settling;
      throw toQueuekitError(error, 'extend-lock', this.id);
    }
    if (!extended) {
      if (this.#settling) return this.#settling;
      throw new LockLostError(`Lock lost on extend-lock of job ${this.id}`);
    }
    this.#lockedUntil = calledAt + duration;
  }
}

/** The handler's result as BullMQ stores it (JSON); `null` when JSON cannot represent it. */
function storableResult(result: unknown): unknown {
  if (result === undefined) return null;
  try {
    return JSON.stringify(result) === undefined ? null : result;
  } catch {
    return null;
  }
}
