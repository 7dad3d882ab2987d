/**
 * One queue (or its dead-letter subqueue): storage, peek-lock, scheduled messages, duplicate
 * detection, expiry and dead-lettering. Transport-free: the AMQP layer feeds it and drains it.
 */
import { randomBytes } from 'node:crypto';
import type { QueueProperties } from './config.js';

/** The AMQP message as decoded by rhea (sections flattened onto one object). */
export type AmqpMessage = Record<string, unknown> & {
  message_id?: unknown;
  application_properties?: Record<string, unknown>;
  message_annotations?: Record<string, unknown>;
  ttl?: number;
};

/** A message held by an entity. */
export interface StoredMessage {
  readonly sequenceNumber: number;
  message: AmqpMessage;
  readonly enqueuedAt: number;
  /**
   * Failed deliveries so far: the AMQP header `delivery-count` ("number of unsuccessful previous
   * delivery attempts", AMQP 1.0 §3.2.1). Service Bus documents DeliveryCount as 1-based
   * (https://learn.microsoft.com/azure/service-bus-messaging/message-transfers-locks-settlement)
   * and puts the 0-based value on the wire; the JS SDK surfaces the wire value as is.
   */
  failedDeliveries: number;
  /** Not visible before this time (scheduled message). */
  visibleAt: number;
  expiresAt: number;
  state: 'active' | 'scheduled' | 'deferred';
  lock: Lock | undefined;
}

/** A peek-lock held on a message. */
export interface Lock {
  /** 16 bytes as the SDK sends them back in management requests (hex). */
  readonly token: string;
  until: number;
}

/** Where a locked message is pushed: a receiver link with credit. */
export interface Consumer {
  /** Messages the consumer can take now. */
  credit(): number;
  /** Hand over a locked message (the transport encodes and sends it). */
  deliver(message: StoredMessage, lockToken: Buffer): void;
}

/** Outcome of a settlement attempt. */
export type SettleResult = 'ok' | 'lock-lost';

/** Dead-letter details kept on the message (application properties, as Service Bus does). */
export interface DeadLetterDetails {
  readonly reason?: string;
  readonly description?: string;
  readonly properties?: Record<string, unknown>;
}

/** Service Bus truncates nothing we know of, but caps user-set property values; we cap the description. */
const MAX_DESCRIPTION = 4096;

/** Insert `item` into `list` kept sorted by sequence number. */
function insertSorted(list: StoredMessage[], item: StoredMessage): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as StoredMessage).sequenceNumber < item.sequenceNumber) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, item);
}

/** A queue or a dead-letter subqueue. */
export class Entity {
  /** Every message still in the entity, by sequence number. */
  readonly messages = new Map<number, StoredMessage>();
  /** Visible, unlocked, active messages in sequence order. */
  private ready: StoredMessage[] = [];
  private readonly locks = new Map<string, StoredMessage>();
  private readonly scheduled = new Set<StoredMessage>();
  private readonly seenIds = new Map<string, number>();
  private readonly consumers: Consumer[] = [];
  private nextConsumer = 0;

  constructor(
    readonly name: string,
    public properties: QueueProperties,
    private readonly nextSequence: () => number,
    /** The dead-letter subqueue (undefined for a subqueue itself: it never dead-letters). */
    readonly deadLetterQueue: Entity | undefined,
  ) {}

  /** Messages in the entity, by state, as far as this server keeps them. */
  counts(now = Date.now()): { active: number; locked: number; scheduled: number; deferred: number } {
    let locked = 0;
    let deferred = 0;
    for (const message of this.messages.values()) {
      if (message.state === 'deferred') deferred++;
      else if (message.lock && message.lock.until > now) locked++;
    }
    return {
      active: this.messages.size - this.scheduled.size - deferred,
      locked,
      scheduled: this.scheduled.size,
      deferred,
    };
  }

  /**
   * Accept a sent message. Returns `false` when duplicate detection drops it: Service Bus accepts
   * the send and silently drops the duplicate (https://learn.microsoft.com/azure/service-bus-messaging/duplicate-detection).
   */
  enqueue(message: AmqpMessage, now = Date.now(), scheduledAt?: number): StoredMessage | undefined {
    // Guess: a message sent without MessageId gets one from the broker (the SDK's lock renewer
    // assumes every received message has one).
    if (message.message_id === undefined || message.message_id === null)
      message = { ...message, message_id: randomBytes(16).toString('hex') };
    if (this.properties.requiresDuplicateDetection && message.message_id !== undefined) {
      const key = String(message.message_id);
      const seen = this.seenIds.get(key);
      if (seen !== undefined && now - seen < this.properties.duplicateDetectionWindowMs) return undefined;
      this.seenIds.set(key, now);
    }
    const ttl = Math.min(
      typeof message.ttl === 'number' && message.ttl > 0 ? message.ttl : Number.POSITIVE_INFINITY,
      this.properties.defaultMessageTimeToLiveMs,
    );
    const stored: StoredMessage = {
      sequenceNumber: this.nextSequence(),
      message,
      enqueuedAt: now,
      failedDeliveries: 0,
      visibleAt: scheduledAt ?? now,
      // TTL counts from the enqueued time, and for scheduled messages from the scheduled time
      // (https://learn.microsoft.com/azure/service-bus-messaging/message-expiration).
      expiresAt: (scheduledAt ?? now) + ttl,
      state: scheduledAt !== undefined && scheduledAt > now ? 'scheduled' : 'active',
      lock: undefined,
    };
    this.messages.set(stored.sequenceNumber, stored);
    if (stored.state === 'scheduled') this.scheduled.add(stored);
    else this.ready.push(stored);
    this.pump(now);
    return stored;
  }

  /** Put a message copied from elsewhere (dead-lettering) at the tail, keeping its counters. */
  adopt(from: StoredMessage, message: AmqpMessage, now = Date.now()): void {
    const stored: StoredMessage = {
      sequenceNumber: this.nextSequence(),
      message,
      enqueuedAt: from.enqueuedAt,
      failedDeliveries: from.failedDeliveries,
      visibleAt: now,
      expiresAt: Number.POSITIVE_INFINITY,
      state: 'active',
      lock: undefined,
    };
    this.messages.set(stored.sequenceNumber, stored);
    this.ready.push(stored);
    this.pump(now);
  }

  /**
   * Cancel scheduled messages by sequence number; unknown numbers are ignored
   * (https://learn.microsoft.com/azure/service-bus-messaging/message-sequencing#scheduled-messages).
   */
  cancelScheduled(sequenceNumbers: readonly number[]): void {
    for (const seq of sequenceNumbers) {
      const message = this.messages.get(seq);
      if (message?.state === 'scheduled') {
        this.scheduled.delete(message);
        this.messages.delete(seq);
      }
    }
  }

  addConsumer(consumer: Consumer): void {
    this.consumers.push(consumer);
  }

  removeConsumer(consumer: Consumer): void {
    const index = this.consumers.indexOf(consumer);
    if (index >= 0) this.consumers.splice(index, 1);
  }

  /** Deliver ready messages to consumers with credit, round robin, each under a new lock. */
  pump(now = Date.now()): void {
    if (this.ready.length === 0 || this.consumers.length === 0) return;
    let idle = 0;
    while (this.ready.length > 0 && idle < this.consumers.length) {
      this.nextConsumer %= this.consumers.length;
      const consumer = this.consumers[this.nextConsumer] as Consumer;
      this.nextConsumer++;
      if (consumer.credit() <= 0) {
        idle++;
        continue;
      }
      idle = 0;
      const message = this.takeReady(now);
      if (!message) return;
      const tokenBytes = randomBytes(16);
      const lock: Lock = { token: tokenBytes.toString('hex'), until: now + this.properties.lockDurationMs };
      message.lock = lock;
      this.locks.set(lock.token, message);
      consumer.deliver(message, tokenBytes);
    }
  }

  /** Next ready message, dropping expired ones on the way. */
  private takeReady(now: number): StoredMessage | undefined {
    for (;;) {
      const message = this.ready.shift();
      if (!message) return undefined;
      if (!this.messages.has(message.sequenceNumber)) continue;
      if (message.expiresAt <= now) {
        this.expire(message, now);
        continue;
      }
      return message;
    }
  }

  /** Expired messages are dropped, or dead-lettered when the queue says so. */
  private expire(message: StoredMessage, now: number): void {
    this.messages.delete(message.sequenceNumber);
    if (this.properties.deadLetteringOnMessageExpiration && this.deadLetterQueue) {
      this.moveToDeadLetter(
        message,
        { reason: 'TTLExpiredException', description: 'The message expired and was dead lettered.' },
        now,
      );
    }
  }

  /** Message locked under `token`, if the lock is still held. */
  locked(token: string, now = Date.now()): StoredMessage | undefined {
    const message = this.locks.get(token);
    if (!message?.lock || message.lock.token !== token || message.lock.until <= now) return undefined;
    return message;
  }

  /** Complete: remove the message (https://learn.microsoft.com/azure/service-bus-messaging/message-transfers-locks-settlement#settling-receive-operations). */
  complete(token: string, now = Date.now()): SettleResult {
    const message = this.locked(token, now);
    if (!message) return 'lock-lost';
    this.unlock(message);
    this.messages.delete(message.sequenceNumber);
    return 'ok';
  }

  /**
   * Abandon: release the lock, the message is available again at once and its delivery count
   * goes up; past MaxDeliveryCount it is dead-lettered. `properties` modify application properties.
   */
  abandon(token: string, properties?: Record<string, unknown>, now = Date.now()): SettleResult {
    const message = this.locked(token, now);
    if (!message) return 'lock-lost';
    if (properties) this.modifyProperties(message, properties);
    this.unlock(message);
    this.failed(message, now);
    return 'ok';
  }

  /** Defer: keep the message, retrievable only by sequence number. */
  defer(token: string, properties?: Record<string, unknown>, now = Date.now()): SettleResult {
    const message = this.locked(token, now);
    if (!message) return 'lock-lost';
    if (properties) this.modifyProperties(message, properties);
    this.unlock(message);
    message.state = 'deferred';
    return 'ok';
  }

  /** Dead-letter a locked message with reason and description (`deadLetter()` in the SDK). */
  deadLetter(token: string, details: DeadLetterDetails, now = Date.now()): SettleResult {
    const message = this.locked(token, now);
    if (!message) return 'lock-lost';
    this.unlock(message);
    this.messages.delete(message.sequenceNumber);
    this.moveToDeadLetter(message, details, now);
    return 'ok';
  }

  /**
   * Renew a lock for another LockDuration from now
   * (https://learn.microsoft.com/azure/service-bus-messaging/message-transfers-locks-settlement#renew-locks).
   */
  renew(token: string, now = Date.now()): number | undefined {
    const message = this.locked(token, now);
    if (!message?.lock) return undefined;
    message.lock.until = now + this.properties.lockDurationMs;
    return message.lock.until;
  }

  /** Peek from a sequence number: no lock taken, deferred and scheduled included, dead letters not. */
  peek(fromSequenceNumber: number, count: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    const sorted = [...this.messages.values()].sort((a, b) => a.sequenceNumber - b.sequenceNumber);
    for (const message of sorted) {
      if (message.sequenceNumber < fromSequenceNumber) continue;
      out.push(message);
      if (out.length >= count) break;
    }
    return out;
  }

  /** Lock deferred messages by sequence number (receive-by-sequence-number). */
  lockDeferred(
    sequenceNumbers: readonly number[],
    now = Date.now(),
  ): { message: StoredMessage; token: Buffer }[] {
    const out: { message: StoredMessage; token: Buffer }[] = [];
    for (const seq of sequenceNumbers) {
      const message = this.messages.get(seq);
      if (message?.state !== 'deferred') continue;
      const tokenBytes = randomBytes(16);
      message.lock = { token: tokenBytes.toString('hex'), until: now + this.properties.lockDurationMs };
      this.locks.set(message.lock.token, message);
      out.push({ message, token: tokenBytes });
    }
    return out;
  }

  /** Time-driven work: expired locks come back, due scheduled messages appear. */
  tick(now = Date.now()): void {
    for (const [token, message] of this.locks) {
      if (!message.lock || message.lock.token !== token) {
        this.locks.delete(token);
        continue;
      }
      if (message.lock.until <= now) {
        // Lock expiry counts as a failed delivery, like abandon
        // (https://learn.microsoft.com/azure/service-bus-messaging/service-bus-dead-letter-queues#maximum-delivery-count).
        this.unlock(message);
        if (message.state === 'deferred') continue;
        this.failed(message, now);
      }
    }
    for (const message of this.scheduled) {
      if (message.visibleAt <= now) {
        this.scheduled.delete(message);
        message.state = 'active';
        insertSorted(this.ready, message);
      }
    }
    for (const [id, seenAt] of this.seenIds) {
      if (now - seenAt >= this.properties.duplicateDetectionWindowMs) this.seenIds.delete(id);
    }
    this.pump(now);
  }

  /** Drop everything (queue deleted). */
  clear(): void {
    this.messages.clear();
    this.ready = [];
    this.locks.clear();
    this.scheduled.clear();
    this.seenIds.clear();
  }

  private unlock(message: StoredMessage): void {
    if (message.lock) this.locks.delete(message.lock.token);
    message.lock = undefined;
  }

  private failed(message: StoredMessage, now: number): void {
    message.failedDeliveries++;
    if (this.deadLetterQueue && message.failedDeliveries >= this.properties.maxDeliveryCount) {
      this.messages.delete(message.sequenceNumber);
      this.moveToDeadLetter(
        message,
        {
          reason: 'MaxDeliveryCountExceeded',
          description: `Message could not be consumed after ${this.properties.maxDeliveryCount} delivery attempts.`,
        },
        now,
      );
      return;
    }
    insertSorted(this.ready, message);
    this.pump(now);
  }

  private modifyProperties(message: StoredMessage, properties: Record<string, unknown>): void {
    message.message = {
      ...message.message,
      application_properties: { ...message.message.application_properties, ...properties },
    };
  }

  /**
   * Dead-lettered messages keep their body and properties; the reason and description become the
   * application properties `DeadLetterReason` and `DeadLetterErrorDescription`, and the source queue
   * the annotation `x-opt-deadletter-source`
   * (https://learn.microsoft.com/azure/service-bus-messaging/service-bus-dead-letter-queues).
   */
  private moveToDeadLetter(message: StoredMessage, details: DeadLetterDetails, now: number): void {
    const dlq = this.deadLetterQueue;
    if (!dlq) return;
    const properties: Record<string, unknown> = {
      ...message.message.application_properties,
      ...details.properties,
    };
    if (details.reason !== undefined) properties.DeadLetterReason = details.reason;
    if (details.description !== undefined)
      properties.DeadLetterErrorDescription = details.description.slice(0, MAX_DESCRIPTION);
    dlq.adopt(
      message,
      {
        ...message.message,
        application_properties: properties,
        message_annotations: { ...message.message.message_annotations, 'x-opt-deadletter-source': this.name },
      },
      now,
    );
  }
}
