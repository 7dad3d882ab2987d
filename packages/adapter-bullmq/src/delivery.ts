import { type DeadLetterInfo, type Delivery, LockLostError, type ReceivedMessage } from '@queuekit/core';
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

  constructor(
    view: ReceivedMessage,
    private readonly job: Job,
    private readonly receiver: QueueReceiver,
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
  }

  /** Complete the job; BullMQ locks the next one in the same call for this consumer's next receive. */
  async ack(): Promise<void> {
    try {
      const fetchNext = this.receiver.wantsNext;
      const next = await this.job.moveToCompleted(null, this.token, fetchNext);
      if (fetchNext) await this.receiver.keepNext(next, this.token);
    } catch (error) {
      throw toQueuekitError(error, 'ack', this.id);
    }
  }

  /** Move the job to BullMQ's failed set, with queuekit's record beside `failedReason`, atomically. */
  async deadLetter(info: DeadLetterInfo): Promise<void> {
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
    }
  }

  /** Back to the queue after `delayMs` (BullMQ `moveToDelayed`); the next delivery counts one more. */
  async release(delayMs: number): Promise<void> {
    try {
      await this.job.moveToDelayed(Date.now() + Math.max(0, delayMs), this.token);
    } catch (error) {
      throw toQueuekitError(error, 'release', this.id);
    }
  }

  /** Keep the lock for `ms` more from now. */
  async extendLock(ms: number): Promise<void> {
    let extended: unknown;
    try {
      extended = await this.job.extendLock(this.token, Math.max(1, Math.ceil(ms)));
    } catch (error) {
      throw toQueuekitError(error, 'extend-lock', this.id);
    }
    if (!extended) throw new LockLostError(`Lock lost on extend-lock of job ${this.id}`);
  }
}
