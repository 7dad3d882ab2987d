import type { CallOptions, protos, v1 } from '@google-cloud/pubsub';
import { AuthenticationError, BrokerUnavailableError, errorMessage } from '@queuekit/core';
import type { PubsubMessage } from './attributes.js';
import { pubsubSize } from './attributes.js';

/** A message as returned by a pull. */
export type PulledMessage = protos.google.pubsub.v1.IReceivedMessage;

/** gRPC status codes this driver tells apart. */
export const Status = {
  CANCELLED: 1,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** The gRPC status code of an error, if it has one. */
export function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Map transport failures to queuekit errors; anything else is rethrown as it is. */
export function mapError(error: unknown, what: string): Error {
  const code = statusOf(error);
  // Credentials Google refuses (or none found), or an identity without rights on the project.
  if (code === Status.UNAUTHENTICATED || code === Status.PERMISSION_DENIED)
    return new AuthenticationError(
      'Pub/Sub',
      `Pub/Sub refused the credentials during ${what}: ${errorMessage(error)}`,
    );
  if (code === Status.UNAVAILABLE || code === Status.DEADLINE_EXCEEDED)
    return new BrokerUnavailableError(`Pub/Sub unreachable during ${what}: ${errorMessage(error)}`, {
      cause: error,
    });
  return error instanceof Error ? error : new Error(errorMessage(error));
}

/**
 * Call options bounding a request, its retries included, to `totalMs`: the client's defaults retry a
 * publish for up to 600 s with pauses growing to 60 s, so a send during a short outage hung far past it
 * and a consumer resumed long after the broker was back. Pauses here go 100 ms, doubling, to 1 s.
 */
export function boundedCall(totalMs: number): CallOptions {
  return {
    timeout: totalMs,
    retry: {
      backoffSettings: {
        initialRetryDelayMillis: 100,
        retryDelayMultiplier: 2,
        maxRetryDelayMillis: 1000,
        initialRpcTimeoutMillis: totalMs,
        rpcTimeoutMultiplier: 1,
        maxRpcTimeoutMillis: totalMs,
        totalTimeoutMillis: totalMs,
      },
    },
  };
}

/** Bound of one publish, pull, acknowledge or modifyAckDeadline call, retries included. */
export const CALL_BOUND_MS = 10_000;
const CALL = boundedCall(CALL_BOUND_MS);

/** Most ack ids per acknowledge / modifyAckDeadline request. */
const MAX_ACK_IDS = 2500;
/** Most messages, and bytes, per publish request. */
const MAX_PUBLISH_MESSAGES = 1000;
const MAX_PUBLISH_BYTES = 9_500_000;

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

interface SettleBatch {
  readonly subscription: string;
  /** `undefined` = acknowledge; a number = modifyAckDeadline to that many seconds. */
  readonly seconds: number | undefined;
  readonly ackIds: string[];
  readonly waiters: Waiter[];
}

/**
 * Coalesces acknowledge and modifyAckDeadline calls made in the same tick into one request per
 * subscription and deadline, the way the client library's streaming subscriber batches them.
 */
export class SettleBatcher {
  private pending = new Map<string, SettleBatch>();
  private scheduled = false;
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly subscriber: v1.SubscriberClient) {}

  /** Acknowledge one message. */
  ack(subscription: string, ackId: string): Promise<void> {
    return this.add(subscription, undefined, [ackId]);
  }

  /** Set the ack deadline of messages to `seconds` from now (0 = nack). */
  modAck(subscription: string, ackIds: readonly string[], seconds: number): Promise<void> {
    if (ackIds.length === 0) return Promise.resolve();
    return this.add(subscription, seconds, ackIds);
  }

  private add(subscription: string, seconds: number | undefined, ackIds: readonly string[]): Promise<void> {
    const key = `${seconds ?? 'ack'} ${subscription}`;
    let batch = this.pending.get(key);
    if (!batch) {
      batch = { subscription, seconds, ackIds: [], waiters: [] };
      this.pending.set(key, batch);
    }
    batch.ackIds.push(...ackIds);
    const done = new Promise<void>((resolve, reject) => batch.waiters.push({ resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    return done;
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.pending.values()];
    this.pending = new Map();
    for (const batch of batches) {
      const work = this.send(batch).then(
        () => {
          for (const waiter of batch.waiters) waiter.resolve();
        },
        (error: unknown) => {
          const mapped = mapError(error, batch.seconds === undefined ? 'acknowledge' : 'modifyAckDeadline');
          for (const waiter of batch.waiters) waiter.reject(mapped);
        },
      );
      this.inflight.add(work);
      void work.finally(() => this.inflight.delete(work));
    }
  }

  private async send(batch: SettleBatch): Promise<void> {
    for (let i = 0; i < batch.ackIds.length; i += MAX_ACK_IDS) {
      const ackIds = batch.ackIds.slice(i, i + MAX_ACK_IDS);
      if (batch.seconds === undefined) {
        await this.subscriber.acknowledge({ subscription: batch.subscription, ackIds }, CALL);
      } else {
        await this.subscriber.modifyAckDeadline(
          {
            subscription: batch.subscription,
            ackIds,
            ackDeadlineSeconds: batch.seconds,
          },
          CALL,
        );
      }
    }
  }

  /** Send what is pending and wait for every request in flight. */
  async drain(): Promise<void> {
    if (this.scheduled) this.flush();
    await Promise.allSettled([...this.inflight]);
  }
}

interface PublishItem {
  readonly message: PubsubMessage;
  readonly size: number;
  readonly waiter: Waiter;
}

interface TopicQueue {
  readonly items: PublishItem[];
  /** Requests in flight. */
  inflight: number;
  /** A request carrying ordering keys is in flight: nothing else goes out until it is done. */
  ordered: boolean;
}

/** Requests in flight per topic for messages without ordering keys. */
const MAX_INFLIGHT_PER_TOPIC = 4;

/**
 * Publisher batching: messages published to one topic while requests are in flight go out
 * together in the next request (at most 1,000 messages / 9.5 MB), up to four requests at a time.
 * A request that carries ordering keys is sent alone, so messages sharing a key keep their
 * publish order.
 */
export class PublishBatcher {
  private readonly queues = new Map<string, TopicQueue>();
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly publisher: v1.PublisherClient) {}

  /** Publish `messages` to `topic`; resolves when Pub/Sub has accepted all of them. */
  publish(topic: string, messages: readonly PubsubMessage[]): Promise<void> {
    return Promise.all(this.publishEach(topic, messages)).then(() => undefined);
  }

  /** Publish `messages` to `topic`: one promise per message (requests of a batch can fail apart). */
  publishEach(topic: string, messages: readonly PubsubMessage[]): Promise<void>[] {
    let state = this.queues.get(topic);
    if (!state) {
      state = { items: [], inflight: 0, ordered: false };
      this.queues.set(topic, state);
    }
    const queue = state;
    const done = messages.map(
      (message) =>
        new Promise<void>((resolve, reject) =>
          queue.items.push({ message, size: pubsubSize(message) + 64, waiter: { resolve, reject } }),
        ),
    );
    this.pump(topic, queue);
    return done;
  }

  private pump(topic: string, state: TopicQueue): void {
    while (state.items.length > 0 && !state.ordered && state.inflight < MAX_INFLIGHT_PER_TOPIC) {
      let bytes = 0;
      let count = 0;
      while (count < state.items.length && count < MAX_PUBLISH_MESSAGES) {
        const size = state.items[count]?.size ?? 0;
        if (count > 0 && bytes + size > MAX_PUBLISH_BYTES) break;
        bytes += size;
        count++;
      }
      const batch = state.items.slice(0, count);
      const keyed = batch.some((item) => Boolean(item.message.orderingKey));
      if (keyed && state.inflight > 0) return; // wait for the others, then go alone
      state.items.splice(0, count);
      state.inflight++;
      if (keyed) state.ordered = true;
      this.send(topic, state, batch, keyed);
    }
    if (state.items.length === 0 && state.inflight === 0) this.queues.delete(topic);
  }

  private send(topic: string, state: TopicQueue, batch: readonly PublishItem[], keyed: boolean): void {
    const work = this.publisher
      .publish({ topic, messages: batch.map((item) => item.message) }, CALL)
      .then(
        () => {
          for (const item of batch) item.waiter.resolve();
        },
        (error: unknown) => {
          const mapped = mapError(error, 'publish');
          for (const item of batch) item.waiter.reject(mapped);
        },
      )
      .finally(() => {
        this.inflight.delete(work);
        state.inflight--;
        if (keyed) state.ordered = false;
        this.pump(topic, state);
      });
    this.inflight.add(work);
  }

  /** Wait for every request in flight (and those queued behind them). */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }
}
