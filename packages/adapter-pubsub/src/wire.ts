import type { protos, v1 } from '@google-cloud/pubsub';
import {
  CORE_HEADERS,
  ConfigError,
  type DeadLetterInfo,
  type OutgoingMessage,
  PayloadTooLargeError,
  type ReceivedMessage,
} from '@queuekit/core';
import {
  Batcher,
  chunk,
  cutText,
  DEAD_LETTER_HEADERS,
  nullPrototypeRecord,
  PACKED_HEADERS,
  packCoreHeaders,
  unpackCoreHeaders,
} from '@queuekit/core/driver-kit';
import { call } from './errors.js';
import { BUNDLE_THRESHOLD, CALL, LARGE_PUBLISH_CALL } from './options.js';

/** A Pub/Sub message as published. */
export type PubsubMessage = protos.google.pubsub.v1.IPubsubMessage;
/** A message as returned by a pull. */
export type PulledMessage = protos.google.pubsub.v1.IReceivedMessage;
type Attributes = Record<string, string>;

/** Attribute names this driver owns. Never visible as headers. */
export const A = {
  /** Job id (Pub/Sub's own message id is per publish, so copies of a job keep the job id here). */
  id: 'qkd-id',
  name: 'qkd-name',
  /** Epoch ms before which the message must not reach the core (the driver's delay). */
  deliverAt: 'qkd-deliver-at',
  /** Attempts counted by the core when it dead-lettered the message. */
  attempts: 'qkd-attempts',
  /** Epoch ms of dead-lettering. */
  deadLetteredAt: 'qkd-dead-lettered-at',
  /** Dead-letter reason and error: the core's header names. */
  reason: CORE_HEADERS.deadLetterReason,
  error: CORE_HEADERS.deadLetterError,
} as const;

/** Prefix of the attributes Pub/Sub adds when its dead-letter policy forwards a message (real service). */
const NATIVE_DEAD_LETTER_PREFIX = 'CloudPubSubDeadLetter';
/** The delivery count of a message the policy forwarded (real service). */
const SOURCE_DELIVERY_COUNT = `${NATIVE_DEAD_LETTER_PREFIX}SourceDeliveryCount`;

/**
 * Attribute names the driver interprets itself, declared as `reservedHeaders` (the core refuses
 * them in user headers; `toPubsubMessage` does too). The core's own `qk-*` names are reserved by the core.
 */
export const RESERVED_HEADERS: readonly string[] = [
  ...[A.id, A.name, A.deliverAt, A.attempts, A.deadLetteredAt],
  ...['DeliveryCount', 'Subscription', 'SubscriptionProject', 'TopicPublishTime'].map(
    (name) => `${NATIVE_DEAD_LETTER_PREFIX}Source${name}`,
  ),
];
const RESERVED_LOWER = new Set(RESERVED_HEADERS.map((name) => name.toLowerCase()));
const OWN_KEYS = new Set<string>(Object.values(A));

/** Pub/Sub limits on attributes. */
export const MAX_ATTRIBUTE_VALUE_BYTES = 1024;
const MAX_ATTRIBUTE_KEY_BYTES = 256;
const MAX_ATTRIBUTES = 100;
/** Attributes a message may carry when sent: the dead-letter copy adds four and must stay within 100. */
const MAX_SENT_ATTRIBUTES = MAX_ATTRIBUTES - 4;
/** The largest message (data plus attribute keys and values plus ordering key) this driver sends. */
export const MAX_MESSAGE_BYTES = 10_000_000;

/**
 * How far ahead of this process's clock a `qkd-deliver-at` may lie: the longest delay the driver
 * writes (600 s, one ack deadline) plus 5 min of clock skew between producer and consumer. A later
 * time was not written by this driver (or the clocks are far apart): the message is treated as due.
 */
const MAX_DELIVER_AT_AHEAD_MS = 600_000 + 300_000;

/** When a delayed message is due: its `qkd-deliver-at`, ignored when missing, malformed or too far ahead. */
export function deliverAtOf(attributes: Readonly<Attributes>, now: number): number | undefined {
  const value = Number(attributes[A.deliverAt]);
  return Number.isFinite(value) && value > 0 && value <= now + MAX_DELIVER_AT_AHEAD_MS ? value : undefined;
}

/** Headers of a received message: its attributes without this driver's own, in an object without prototype. */
function headersOf(attributes: Readonly<Attributes>): Record<string, string> {
  const out: Attributes = nullPrototypeRecord<string>();
  for (const key of Object.keys(attributes)) {
    if (!OWN_KEYS.has(key) && !key.startsWith(NATIVE_DEAD_LETTER_PREFIX))
      out[key] = attributes[key] as string;
  }
  return out;
}

/** Bytes Pub/Sub counts for a message. */
export function pubsubSize(message: PubsubMessage): number {
  const data = message.data;
  let size = typeof data === 'string' ? Buffer.byteLength(data, 'base64') : (data?.byteLength ?? 0);
  for (const [key, value] of Object.entries(message.attributes ?? {}))
    size += Buffer.byteLength(key) + Buffer.byteLength(value);
  if (message.orderingKey) size += Buffer.byteLength(message.orderingKey);
  return size;
}

/** Bytes Pub/Sub counts for a message made by {@link toPubsubMessage}, at most (strings as 3 bytes a unit). */
const SIZES = new WeakMap<PubsubMessage, number>();

/** Refuse an attribute Pub/Sub would refuse; exact byte counts only for strings that could be too long. */
function checkAttribute(key: string, value: string, lower = key.toLowerCase()): void {
  if (
    key === '' ||
    lower.startsWith('goog') ||
    (key.length > 85 && Buffer.byteLength(key) > MAX_ATTRIBUTE_KEY_BYTES)
  )
    throw new ConfigError(
      `headers.${key}`,
      'Pub/Sub attribute keys are 1-256 bytes and must not start with "goog"',
    );
  if (value.length > 341 && Buffer.byteLength(value) > MAX_ATTRIBUTE_VALUE_BYTES)
    throw new ConfigError(`headers.${key}`, 'Pub/Sub attribute values are limited to 1024 bytes');
}

/**
 * Map a core message to a Pub/Sub message; checks every limit before any network call. The core's headers
 * (`qk-*`, `content-type`) travel packed in one `qk-packed` JSON attribute, which protobuf encodes and the
 * broker stores as one map entry instead of five; when the packed value would pass Pub/Sub's 1024-byte limit
 * (a long job name or backoff), they travel apart as before. The job name travels in `qkd-name` only when the
 * core's `qk-name` header does not already say it.
 */
export function toPubsubMessage(message: OutgoingMessage, now = Date.now()): PubsubMessage {
  const { id, name, body, headers, orderingKey } = message;
  for (const key of Object.keys(headers)) {
    const lower = key.toLowerCase();
    if (RESERVED_LOWER.has(lower))
      throw new ConfigError(`headers.${key}`, 'this attribute name is reserved by the Pub/Sub driver');
    checkAttribute(key, headers[key] as string, lower);
  }
  let attributes: Attributes = packCoreHeaders(headers);
  const packed = attributes[PACKED_HEADERS];
  if (packed === undefined || (packed.length > 341 && Buffer.byteLength(packed) > MAX_ATTRIBUTE_VALUE_BYTES))
    attributes = { ...headers };
  let count = 0;
  let bound = body.byteLength + (orderingKey === undefined ? 0 : orderingKey.length * 3);
  for (const key in attributes) {
    count++;
    bound += (key.length + (attributes[key] as string).length) * 3;
  }
  const add = (key: string, value: string) => {
    attributes[key] = value;
    count++;
    bound += (key.length + value.length) * 3;
  };
  // The driver's own attributes come last (the core refuses them in headers).
  checkAttribute(A.id, id);
  add(A.id, id);
  if (headers[CORE_HEADERS.name] !== name) {
    checkAttribute(A.name, name);
    add(A.name, name);
  }
  if (message.delayMs !== undefined && message.delayMs > 0) add(A.deliverAt, String(now + message.delayMs));
  if (count > MAX_SENT_ATTRIBUTES)
    throw new ConfigError(
      'headers',
      `Pub/Sub carries at most ${MAX_ATTRIBUTES} attributes per message; queuekit keeps 4 for dead letters, so ${MAX_SENT_ATTRIBUTES} with the job id and name`,
    );
  const data = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const out: PubsubMessage = { data, attributes, ...(orderingKey === undefined ? {} : { orderingKey }) };
  const size = bound > MAX_MESSAGE_BYTES ? pubsubSize(out) : bound;
  if (size > MAX_MESSAGE_BYTES) throw new PayloadTooLargeError(size, MAX_MESSAGE_BYTES, 'pubsub');
  SIZES.set(out, size);
  return out;
}

/** A copy of a received message for re-publishing: driver attributes dropped but id and name. */
export function copyOf(message: PubsubMessage): PubsubMessage {
  const source = message.attributes ?? {};
  const attributes: Attributes = headersOf(source);
  for (const key of [A.id, A.name]) if (source[key] !== undefined) attributes[key] = source[key];
  return {
    data: message.data ?? Buffer.alloc(0),
    attributes,
    ...(message.orderingKey ? { orderingKey: message.orderingKey } : {}),
  };
}

/**
 * The copy published to the dead-letter topic: the message plus why it died. The error text is
 * cut to Pub/Sub's 1024-byte attribute value limit, and further (or left out) so that the copy
 * stays within the 10 MB message limit.
 */
export function deadLetterCopy(message: PubsubMessage, info: DeadLetterInfo): PubsubMessage {
  const copy = copyOf(message);
  const attributes = copy.attributes as Attributes;
  attributes[A.reason] = cutText(info.reason, 256);
  if (info.attempts !== undefined) attributes[A.attempts] = String(info.attempts);
  attributes[A.deadLetteredAt] = String(Date.now());
  if (info.error !== undefined) {
    const room = MAX_MESSAGE_BYTES - pubsubSize(copy) - Buffer.byteLength(A.error);
    if (room >= 16) attributes[A.error] = cutText(info.error, Math.min(MAX_ATTRIBUTE_VALUE_BYTES, room));
  }
  return copy;
}

/** What a pulled message is to the core, but its delivery count. */
export function received(pulled: PulledMessage): Omit<ReceivedMessage, 'deliveryCount'> {
  const message = pulled.message ?? {};
  const attributes = message.attributes ?? {};
  const { data, publishTime: time } = message;
  return {
    id: attributes[A.id] ?? message.messageId ?? '',
    ...(attributes[A.name] === undefined ? {} : { name: attributes[A.name] }),
    body:
      data instanceof Uint8Array
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : Buffer.from(data ?? '', 'base64'),
    // Packed or apart (messages sent before packing, or by other producers), the headers read the same.
    headers: headersOf(unpackCoreHeaders(attributes)),
    ...(time?.seconds
      ? { enqueuedAt: new Date(Number(time.seconds) * 1000 + Math.floor((time.nanos ?? 0) / 1e6)) }
      : {}),
    ...(message.orderingKey ? { orderingKey: message.orderingKey } : {}),
    raw: pulled,
  };
}

/**
 * A message of the dead-letter subscription as the kit's dead-letter list reads it: reason, error, attempts
 * and time under the kit's header names. One forwarded by the native policy gets the reason
 * `max-delivery-attempts`, the policy's delivery count, and its publish time as its dead-letter time.
 */
export function receivedDeadLetter(pulled: PulledMessage, maxDeliveryAttempts: number): ReceivedMessage {
  const attributes = pulled.message?.attributes ?? {};
  const message = received(pulled);
  const byCore = attributes[A.reason] !== undefined;
  const count = Number(attributes[SOURCE_DELIVERY_COUNT] ?? 0);
  const policyCount = Number.isSafeInteger(count) && count > 0 ? count : maxDeliveryAttempts;
  const own = {
    [DEAD_LETTER_HEADERS.reason]: byCore ? attributes[A.reason] : 'max-delivery-attempts',
    [DEAD_LETTER_HEADERS.error]: byCore
      ? attributes[A.error]
      : `Pub/Sub dead-letter policy: delivered ${policyCount} times without acknowledgement`,
    [DEAD_LETTER_HEADERS.attempts]: attributes[A.attempts],
    [DEAD_LETTER_HEADERS.at]: attributes[A.deadLetteredAt] ?? message.enqueuedAt?.getTime(),
  };
  const headers = message.headers as Attributes;
  for (const [key, value] of Object.entries(own)) if (value !== undefined) headers[key] = String(value);
  return { ...message, deliveryCount: byCore ? 1 : policyCount };
}

/** The Pub/Sub resources behind one queue name (full resource paths). */
export interface QueueResources {
  /** `projects/P/topics/T`: where the queue's messages are published. */
  readonly topic: string;
  /** `projects/P/subscriptions/S`: the queue's consumers pull from it. */
  readonly subscription: string;
  /**
   * Messages with an ordering key go through this sibling topic (`T.ordered`), whose subscription
   * (`S.ordered`) has message ordering enabled; see the README for why they are kept apart.
   */
  readonly orderedTopic: string;
  readonly orderedSubscription: string;
  /** The dead-letter topic (`T.dlq`): the native policy and `deadLetter()` publish here. */
  readonly deadLetterTopic: string;
  /** A subscription on the dead-letter topic (`S.dlq`): list, redrive and purge read it. */
  readonly deadLetterSubscription: string;
}

const ALLOWED = /[A-Za-z0-9\-_.~+%]/;
const VALID_ID = /^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;

/** Percent-encode the characters a Pub/Sub resource id does not allow. */
function encodeId(value: string): string {
  let out = '';
  for (const char of value) {
    if (ALLOWED.test(char)) out += char;
    else for (const byte of Buffer.from(char)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function expand(template: string, placeholder: string, value: string): string {
  return template.includes(placeholder) ? template.split(placeholder).join(value) : `${template}-${value}`;
}

/** Resolve the resource paths of `queue` from the topic and subscription templates. */
export function queueResources(
  projectId: string,
  topicTemplate: string,
  subscriptionTemplate: string,
  queue: string,
): QueueResources {
  const path = (kind: 'topic' | 'subscription', id: string) => {
    if (!VALID_ID.test(id) || id.toLowerCase().startsWith('goog'))
      throw new ConfigError(
        'queue',
        `queue \`${queue}\` maps to the ${kind} id \`${id}\`, which Pub/Sub refuses (3-255 characters, starting with a letter, not with "goog")`,
      );
    return `projects/${projectId}/${kind}s/${id}`;
  };
  const queueId = encodeId(queue);
  const topicId = expand(topicTemplate, '{queue}', queueId);
  const subscriptionId = subscriptionTemplate.includes('{topic}')
    ? subscriptionTemplate.split('{topic}').join(topicId).split('{queue}').join(queueId)
    : expand(subscriptionTemplate, '{queue}', queueId);
  return {
    topic: path('topic', topicId),
    subscription: path('subscription', subscriptionId),
    orderedTopic: path('topic', `${topicId}.ordered`),
    orderedSubscription: path('subscription', `${subscriptionId}.ordered`),
    deadLetterTopic: path('topic', `${topicId}.dlq`),
    deadLetterSubscription: path('subscription', `${subscriptionId}.dlq`),
  };
}

/** Most ack ids per acknowledge / modifyAckDeadline request. */
const MAX_ACK_IDS = 2500;
/** Most messages, and bytes, per publish request. */
const MAX_PUBLISH_MESSAGES = 1000;
const MAX_PUBLISH_BYTES = 9_500_000;

/** Which messages of one {@link Requests.publish} call Pub/Sub did not take (their indexes), and why. */
export interface PublishOutcome {
  readonly failed: number[];
  error?: unknown;
}

/**
 * The requests that move messages, each tracked until it ends (`drain`). Publishes go in requests of at
 * most 1,000 messages / 9.5 MB (a larger message alone): at once without ordering keys, one at a time per
 * topic with them, so messages sharing a key keep their publish order. Acknowledge and modifyAckDeadline
 * calls of one tick are coalesced into one request per subscription and deadline, as the client
 * library's streaming subscriber does.
 */
export class Requests {
  readonly #inflight = new Set<Promise<unknown>>();
  /** Per topic, the last publish carrying ordering keys. */
  readonly #ordered = new Map<string, Promise<void>>();
  /** Acknowledge and modifyAckDeadline calls of this tick, per deadline (or ack) and subscription. */
  readonly #settles = new Batcher<string>(MAX_ACK_IDS, (key, ackIds) => this.#settle(key, ackIds));

  constructor(
    private readonly publisher: v1.PublisherClient,
    private readonly subscriber: v1.SubscriberClient,
  ) {}

  /** Publish `messages` to `topic`; resolves with the ones Pub/Sub did not take (requests fail apart). */
  async publish(topic: string, messages: readonly PubsubMessage[]): Promise<PublishOutcome> {
    const outcome: PublishOutcome = { failed: [] };
    const sizeOf = (message: PubsubMessage) =>
      Math.min(MAX_PUBLISH_BYTES, (SIZES.get(message) ?? pubsubSize(message)) + 64);
    const batches = chunk(messages, { maxCount: MAX_PUBLISH_MESSAGES, maxBytes: MAX_PUBLISH_BYTES, sizeOf });
    let offset = 0;
    const requests = batches.map((batch) => {
      const first = offset;
      offset += batch.length;
      const send = () =>
        call('publish', () =>
          this.publisher.publish(
            { topic, messages: batch },
            batch.length >= BUNDLE_THRESHOLD ? LARGE_PUBLISH_CALL : CALL,
          ),
        ).then(
          () => undefined,
          (error: unknown) => {
            for (let i = first; i < first + batch.length; i++) outcome.failed.push(i);
            outcome.error ??= error;
          },
        );
      if (!batch.some((message) => message.orderingKey)) return this.#track(send());
      const request = this.#track((this.#ordered.get(topic) ?? Promise.resolve()).then(send));
      this.#ordered.set(topic, request);
      void request.then(() => this.#ordered.get(topic) === request && this.#ordered.delete(topic));
      return request;
    });
    await Promise.all(requests);
    return outcome;
  }

  /** Publish `messages` to `topic`; rejects when Pub/Sub did not take one of them. */
  async publishAll(topic: string, messages: readonly PubsubMessage[]): Promise<void> {
    const { failed, error } = await this.publish(topic, messages);
    if (failed.length > 0) throw error;
  }

  /** Acknowledge one message. */
  ack(subscription: string, ackId: string): Promise<void> {
    return this.#settles.add(`ack ${subscription}`, ackId);
  }

  /** Set the ack deadline of messages to `seconds` from now (0 = nack). */
  async modAck(subscription: string, ackIds: readonly string[], seconds: number): Promise<void> {
    await Promise.all(ackIds.map((ackId) => this.#settles.add(`${seconds} ${subscription}`, ackId)));
  }

  /** One acknowledge (`key` is `ack SUBSCRIPTION`) or modifyAckDeadline (`SECONDS SUBSCRIPTION`) request. */
  async #settle(key: string, ackIds: string[]): Promise<undefined> {
    const [kind, subscription = ''] = key.split(' ');
    if (kind === 'ack')
      await call('acknowledge', () => this.subscriber.acknowledge({ subscription, ackIds }, CALL));
    else {
      const request = { subscription, ackIds, ackDeadlineSeconds: Number(kind) };
      await call('modifyAckDeadline', () => this.subscriber.modifyAckDeadline(request, CALL));
    }
    return undefined;
  }

  #track<T>(request: Promise<T>): Promise<T> {
    const forget = () => this.#inflight.delete(request);
    this.#inflight.add(request);
    void request.then(forget, forget);
    return request;
  }

  /** Wait for every request in flight, and those they started. */
  async drain(): Promise<void> {
    await this.#settles.drain();
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    await this.#settles.drain();
  }
}
