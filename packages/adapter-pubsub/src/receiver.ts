import type { v1 } from '@google-cloud/pubsub';
import {
  type DeadLetterInfo,
  type Delivery,
  LockLostError,
  QueueClosedError,
  type ReceiveOptions,
  linkSignals,
} from '@queuekit/core';
import type { QueueSubscriptions, SubscriptionInfo } from './admin.js';
import {
  A,
  deliverAtOf,
  headersOf,
  MAX_ATTRIBUTE_VALUE_BYTES,
  MAX_MESSAGE_BYTES,
  type PubsubMessage,
  pubsubSize,
  republishAttributes,
  truncateUtf8,
} from './attributes.js';
import { MAX_ACK_DEADLINE_SECONDS } from './options.js';
import type { QueueResources } from './names.js';
import {
  boundedCall,
  CALL_BOUND_MS,
  mapError,
  type PublishBatcher,
  type PulledMessage,
  type SettleBatcher,
} from './rpc.js';

/** What a {@link QueueReceiver} shares with its driver. */
export interface ReceiverContext {
  readonly resources: QueueResources;
  readonly subscriptions: QueueSubscriptions;
  readonly subscriber: v1.SubscriberClient;
  readonly settle: SettleBatcher;
  readonly publisher: PublishBatcher;
  readonly pollIntervalMs: number;
  /** Fires when the driver closes. */
  readonly closed: AbortSignal;
  /** Keep a background promise (normalising a delayed message) so `close()` can wait for it. */
  track(work: Promise<unknown>): void;
}

/** A pulled message under this driver's lease. */
interface Lease {
  /** The subscription it was pulled from. */
  readonly source: Source;
  readonly pulled: PulledMessage;
  readonly ackId: string;
  readonly messageId: string;
  readonly orderingKey: string | undefined;
  lockedUntil: number;
  settled: boolean;
}

type Source = SubscriptionInfo & { readonly name: string };

/** The topic a message (or its copy) is published to: keyed messages go through the ordered sibling. */
export function topicFor(
  resources: QueueResources,
  orderingKey: string | null | undefined,
  ordered: boolean,
): string {
  return orderingKey && ordered ? resources.orderedTopic : resources.topic;
}

/** Seconds for an ack deadline of at least `ms` (Pub/Sub counts whole seconds, at most 600). */
export function deadlineSeconds(ms: number, min = 1): number {
  return Math.min(MAX_ACK_DEADLINE_SECONDS, Math.max(min, Math.ceil(ms / 1000)));
}

const MAX_COMPENSATIONS = 10_000;

/**
 * The consuming side of one queue: synchronous pulls (`returnImmediately`, never cancelled) of at
 * most the core's free slots, the driver's delay (park or normalise), per-key gating for ordering
 * keys, and the settle operations of each delivery.
 */
export class QueueReceiver {
  /** Ordering keys with a delivery in the core's hands. */
  private readonly activeKeys = new Set<string>();
  /** Later messages of an active key, pulled in the same batch, waiting their turn (in order). */
  private readonly held = new Map<string, Lease[]>();
  private readonly wakers = new Set<() => void>();
  /**
   * Deliveries the core never saw, per Pub/Sub message id (followers nacked when their
   * predecessor was released). Subtracted from `deliveryAttempt` so the count stays honest.
   */
  private readonly compensation = new Map<string, number>();
  private turn = false;

  constructor(private readonly ctx: ReceiverContext) {}

  /** Take up to `max` messages under a lock of `lockMs`, waiting up to `waitMs`. */
  async receive(options: ReceiveOptions): Promise<Delivery[]> {
    const { max, lockMs } = options;
    const linked = linkSignals(options.signal, this.ctx.closed);
    try {
      return await this.#receive(max, deadlineSeconds(lockMs), Date.now() + options.waitMs, linked.signal);
    } finally {
      linked.dispose();
    }
  }

  async #receive(
    max: number,
    lockSeconds: number,
    deadline: number,
    signal: AbortSignal,
  ): Promise<Delivery[]> {
    for (;;) {
      const out = this.takeHeld(max);
      const fresh: Lease[] = [];
      const followers: Lease[] = [];
      let pulledCount = 0;
      for (const source of this.sources()) {
        const room = max - out.length - this.heldCount();
        if (room <= 0 || signal.aborted) break;
        const pulledAt = Date.now();
        const pulled = await this.pull(source, room);
        pulledCount += pulled.length;
        for (const message of pulled) this.classify(source, message, pulledAt, out, fresh, followers);
      }
      if (out.length > 0) {
        await this.lock(out, fresh, followers, lockSeconds);
        return out.map((lease) => this.delivery(lease));
      }
      if (followers.length > 0) await this.lock([], fresh, followers, lockSeconds);
      const left = deadline - Date.now();
      if (signal.aborted || left <= 0) return [];
      // A full pull of delayed messages: pull again at once; an empty one: wait a little.
      if (pulledCount === 0) await this.idle(Math.min(this.ctx.pollIntervalMs, left), signal);
    }
  }

  /** The subscriptions to pull, taking turns at going first so neither starves the other. */
  private sources(): Source[] {
    const { main, ordered } = this.ctx.subscriptions;
    if (!ordered) return [main];
    this.turn = !this.turn;
    return this.turn ? [ordered, main] : [main, ordered];
  }

  private async pull(source: Source, max: number): Promise<PulledMessage[]> {
    try {
      const [response] = await this.ctx.subscriber.pull(
        {
          subscription: source.name,
          maxMessages: Math.min(max, 1000),
          returnImmediately: true,
        },
        boundedCall(CALL_BOUND_MS),
      );
      return response.receivedMessages ?? [];
    } catch (error) {
      throw mapError(error, 'pull');
    }
  }

  /** Sort one pulled message: early (park), due after a delay (normalise), held behind its key, or out. */
  private classify(
    source: Source,
    message: PulledMessage,
    now: number,
    out: Lease[],
    fresh: Lease[],
    followers: Lease[],
  ): void {
    const attributes = message.message?.attributes ?? {};
    if (attributes[A.deliverAt] !== undefined) {
      // Malformed or too far ahead (not written by this driver): due now, never parked for years.
      const deliverAt = deliverAtOf(attributes, now) ?? now;
      if (deliverAt > now) this.park(source, message, deliverAt - now);
      else this.normalise(source, message);
      return;
    }
    const lease: Lease = {
      source,
      pulled: message,
      ackId: message.ackId ?? '',
      messageId: message.message?.messageId ?? '',
      orderingKey: message.message?.orderingKey || undefined,
      lockedUntil: now + source.ackDeadlineSeconds * 1000,
      settled: false,
    };
    const key = lease.orderingKey;
    if (key !== undefined && (this.activeKeys.has(key) || (this.held.get(key)?.length ?? 0) > 0)) {
      this.hold(key, lease);
      followers.push(lease);
      return;
    }
    if (key !== undefined) this.activeKeys.add(key);
    out.push(lease);
    fresh.push(lease);
  }

  /** Hide an early message until its time (at most 600 s); it never reaches the core early. */
  private park(source: Source, message: PulledMessage, remainingMs: number): void {
    const work = this.ctx.settle
      .modAck(source.name, [message.ackId ?? ''], deadlineSeconds(remainingMs))
      .catch(() => undefined);
    this.ctx.track(work);
  }

  /**
   * A delayed message whose time has come: publish a copy without the delay attribute, then ack
   * the original. The copy starts a fresh `deliveryAttempt`, so the core's count only ever
   * includes deliveries it saw (the parking redeliveries are not counted).
   */
  private normalise(source: Source, message: PulledMessage): void {
    const original = message.message ?? {};
    const copy: PubsubMessage = {
      data: original.data ?? Buffer.alloc(0),
      attributes: republishAttributes(original.attributes ?? {}, {}),
      ...(original.orderingKey ? { orderingKey: original.orderingKey } : {}),
    };
    const work = this.ctx.publisher
      .publish(
        topicFor(this.ctx.resources, original.orderingKey, this.ctx.subscriptions.ordered !== undefined),
        [copy],
      )
      .then(() => this.ctx.settle.ack(source.name, message.ackId ?? ''))
      .catch(() => undefined);
    this.ctx.track(work);
  }

  private hold(key: string, lease: Lease): void {
    const list = this.held.get(key) ?? [];
    const same = list.findIndex((other) => other.messageId === lease.messageId);
    if (same >= 0) list[same] = lease;
    else list.push(lease);
    this.held.set(key, list);
  }

  private heldCount(): number {
    let count = 0;
    for (const list of this.held.values()) count += list.length;
    return count;
  }

  /** Followers whose key is free again, oldest first, one per key. */
  private takeHeld(max: number): Lease[] {
    const out: Lease[] = [];
    const now = Date.now();
    for (const [key, list] of this.held) {
      if (out.length >= max) break;
      if (this.activeKeys.has(key)) continue;
      while (list.length > 0 && (list[0]?.lockedUntil ?? 0) <= now) list.shift();
      const next = list.shift();
      if (list.length === 0) this.held.delete(key);
      if (!next) continue;
      this.activeKeys.add(key);
      out.push(next);
    }
    return out;
  }

  /** Give the returned deliveries (and held followers) the consumer's lock. */
  private async lock(out: Lease[], fresh: Lease[], followers: Lease[], lockSeconds: number): Promise<void> {
    const freshSet = new Set(fresh);
    const targets = [
      ...out.filter((lease) => !(freshSet.has(lease) && lease.source.ackDeadlineSeconds === lockSeconds)),
      ...followers,
    ];
    if (targets.length === 0) return;
    const start = Date.now();
    const bySource = new Map<string, string[]>();
    for (const lease of targets)
      bySource.set(lease.source.name, [...(bySource.get(lease.source.name) ?? []), lease.ackId]);
    await Promise.all(
      [...bySource].map(([subscription, ackIds]) =>
        this.ctx.settle.modAck(subscription, ackIds, lockSeconds),
      ),
    );
    for (const lease of targets) lease.lockedUntil = start + lockSeconds * 1000;
  }

  private idle(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private wake(): void {
    for (const waker of [...this.wakers]) waker();
  }

  /** The key's turn is over: let its next held follower go. */
  private freeKey(key: string | undefined): void {
    if (key === undefined) return;
    this.activeKeys.delete(key);
    this.wake();
  }

  /**
   * Detach the held followers of `key` so they can be handed back to Pub/Sub together with
   * their released predecessor (same deadline, one request, in order). They never reached the
   * core, so their next `deliveryAttempt` is compensated.
   */
  private detachFollowers(key: string | undefined): Lease[] {
    if (key === undefined) return [];
    const followers = this.held.get(key) ?? [];
    this.held.delete(key);
    for (const follower of followers) this.compensate(follower.messageId);
    return followers;
  }

  private compensate(messageId: string): void {
    if (!messageId) return;
    this.compensation.set(messageId, (this.compensation.get(messageId) ?? 0) + 1);
    if (this.compensation.size > MAX_COMPENSATIONS) {
      const oldest = this.compensation.keys().next().value;
      if (oldest !== undefined) this.compensation.delete(oldest);
    }
  }

  private deliveryCount(lease: Lease): number {
    const attempt = lease.pulled.deliveryAttempt ?? 0;
    if (attempt <= 0) return 1;
    return Math.max(1, attempt - (this.compensation.get(lease.messageId) ?? 0));
  }

  /** Claim the right to settle `lease` once, while its lock holds. */
  private claim(lease: Lease): void {
    if (this.ctx.closed.aborted) throw new QueueClosedError('The pubsub driver is closed');
    if (lease.settled) throw new LockLostError('This delivery was already settled');
    lease.settled = true;
    if (Date.now() > lease.lockedUntil) {
      this.freeKey(lease.orderingKey);
      throw new LockLostError();
    }
  }

  private delivery(lease: Lease): Delivery {
    const message = lease.pulled.message ?? {};
    const attributes = message.attributes ?? {};
    const { deadLetterTopic } = this.ctx.resources;
    const subscription = lease.source.name;
    const settle = this.ctx.settle;
    const data = message.data;
    const body =
      data instanceof Uint8Array
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : Buffer.from(data ?? '', 'base64');
    const publishTime = message.publishTime;
    const delivery: Delivery = {
      /** Epoch ms the ack deadline runs out; follows `extendLock`. */
      get lockedUntil() {
        return lease.lockedUntil;
      },
      id: attributes[A.id] ?? lease.messageId,
      ...(attributes[A.name] === undefined ? {} : { name: attributes[A.name] }),
      body,
      headers: headersOf(attributes),
      deliveryCount: this.deliveryCount(lease),
      ...(publishTime?.seconds
        ? {
            enqueuedAt: new Date(
              Number(publishTime.seconds) * 1000 + Math.floor((publishTime.nanos ?? 0) / 1e6),
            ),
          }
        : {}),
      ...(lease.orderingKey === undefined ? {} : { orderingKey: lease.orderingKey }),
      raw: lease.pulled,
      ack: async () => {
        this.claim(lease);
        try {
          await settle.ack(subscription, lease.ackId);
          this.compensation.delete(lease.messageId);
        } finally {
          this.freeKey(lease.orderingKey);
        }
      },
      deadLetter: async (info: DeadLetterInfo) => {
        this.claim(lease);
        try {
          await this.ctx.publisher.publish(deadLetterTopic, [deadLetterCopy(message, info)]);
          await settle.ack(subscription, lease.ackId);
          this.compensation.delete(lease.messageId);
        } finally {
          this.freeKey(lease.orderingKey);
        }
      },
      extendLock: async (ms: number) => {
        if (this.ctx.closed.aborted) throw new QueueClosedError('The pubsub driver is closed');
        if (lease.settled || Date.now() > lease.lockedUntil) throw new LockLostError();
        const seconds = deadlineSeconds(ms);
        const followers = lease.orderingKey === undefined ? [] : (this.held.get(lease.orderingKey) ?? []);
        const start = Date.now();
        await settle.modAck(subscription, [lease.ackId, ...followers.map((f) => f.ackId)], seconds);
        lease.lockedUntil = start + seconds * 1000;
        for (const follower of followers) follower.lockedUntil = start + seconds * 1000;
      },
    };
    if ((lease.pulled.deliveryAttempt ?? 0) > 0) {
      delivery.release = async (delayMs: number) => {
        this.claim(lease);
        const followers = this.detachFollowers(lease.orderingKey);
        try {
          await settle.modAck(
            subscription,
            [lease.ackId, ...followers.map((follower) => follower.ackId)],
            deadlineSeconds(delayMs, 0),
          );
        } finally {
          this.freeKey(lease.orderingKey);
        }
      };
    }
    return delivery;
  }
}

/**
 * The copy published to the dead-letter topic: the message plus why it died. The error text is
 * cut to Pub/Sub's 1024-byte attribute value limit, and further (or left out) so that the copy
 * stays within the 10 MB message limit.
 */
export function deadLetterCopy(
  message: {
    data?: Uint8Array | string | null;
    attributes?: Record<string, string> | null;
    orderingKey?: string | null;
  },
  info: DeadLetterInfo,
  now = Date.now(),
): PubsubMessage {
  const attributes = republishAttributes(message.attributes ?? {}, {});
  attributes[A.reason] = truncateUtf8(info.reason, 256);
  if (info.attempts !== undefined) attributes[A.attempts] = String(info.attempts);
  attributes[A.deadLetteredAt] = String(now);
  const copy: PubsubMessage = {
    data: message.data ?? Buffer.alloc(0),
    attributes,
    ...(message.orderingKey ? { orderingKey: message.orderingKey } : {}),
  };
  if (info.error !== undefined) {
    const room = MAX_MESSAGE_BYTES - pubsubSize(copy) - Buffer.byteLength(A.error);
    if (room >= 16) attributes[A.error] = truncateUtf8(info.error, Math.min(MAX_ATTRIBUTE_VALUE_BYTES, room));
  }
  return copy;
}
