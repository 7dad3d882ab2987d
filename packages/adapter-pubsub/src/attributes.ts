import type { protos } from '@google-cloud/pubsub';
import { CORE_HEADERS, ConfigError, type OutgoingMessage, PayloadTooLargeError } from '@queuekit/core';

/** A Pub/Sub message as published. */
export type PubsubMessage = protos.google.pubsub.v1.IPubsubMessage;

/** Attribute names this driver owns. Never visible as headers. */
export const A = {
  /** Job id (Pub/Sub's own message id is per publish, so copies of a job keep the job id here). */
  id: 'qkd-id',
  /** Job name. */
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
export const NATIVE_DEAD_LETTER_PREFIX = 'CloudPubSubDeadLetter';

/**
 * Attributes the real service adds when its dead-letter policy forwards a message; the driver
 * reads the first one (as the delivery count of a natively dead-lettered message).
 */
export const NATIVE_DEAD_LETTER_ATTRIBUTES = [
  'CloudPubSubDeadLetterSourceDeliveryCount',
  'CloudPubSubDeadLetterSourceSubscription',
  'CloudPubSubDeadLetterSourceSubscriptionProject',
  'CloudPubSubDeadLetterSourceTopicPublishTime',
] as const;

/** Pub/Sub limits on attributes. */
export const MAX_ATTRIBUTE_VALUE_BYTES = 1024;
const MAX_ATTRIBUTE_KEY_BYTES = 256;
const MAX_ATTRIBUTES = 100;
/**
 * Attributes a message may carry when sent: the dead-letter copy adds four (reason, error,
 * attempts, time), and must still be within Pub/Sub's 100.
 */
export const MAX_SENT_ATTRIBUTES = MAX_ATTRIBUTES - 4;

/**
 * How far ahead of this process's clock a `qkd-deliver-at` may lie: the longest delay the driver
 * writes (600 s, one ack deadline) plus 5 min of clock skew between producer and consumer. A later
 * time was not written by this driver (or the clocks are far apart): the message is treated as due.
 */
export const MAX_DELIVER_AT_AHEAD_MS = 600_000 + 300_000;

/** The largest message (data plus attribute keys and values plus ordering key) this driver sends. */
export const MAX_MESSAGE_BYTES = 10_000_000;

const DRIVER_KEYS = new Set<string>([A.id, A.name, A.deliverAt, A.attempts, A.deadLetteredAt]);
const DEAD_LETTER_KEYS = new Set<string>([A.reason, A.error, A.attempts, A.deadLetteredAt]);

/**
 * Attribute names the driver interprets itself, declared as `reservedHeaders` (the core refuses
 * them in user headers; `toPubsubMessage` does too). The core's own `qk-*` names are reserved by the core.
 */
export const RESERVED_HEADERS: readonly string[] = [
  A.id,
  A.name,
  A.deliverAt,
  A.attempts,
  A.deadLetteredAt,
  ...NATIVE_DEAD_LETTER_ATTRIBUTES,
];
const RESERVED_LOWER = new Set(RESERVED_HEADERS.map((name) => name.toLowerCase()));

/** When a delayed message is due: its `qkd-deliver-at`, ignored when missing, malformed or too far ahead. */
export function deliverAtOf(attributes: Readonly<Record<string, string>>, now: number): number | undefined {
  const value = Number(attributes[A.deliverAt]);
  return Number.isFinite(value) && value > 0 && value <= now + MAX_DELIVER_AT_AHEAD_MS ? value : undefined;
}

/** Headers of a received message: its attributes without this driver's own. */
export function headersOf(attributes: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(attributes)) {
    if (!DRIVER_KEYS.has(key) && !DEAD_LETTER_KEYS.has(key) && !key.startsWith(NATIVE_DEAD_LETTER_PREFIX))
      out[key] = value;
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

/** Cut `value` to at most `maxBytes` UTF-8 bytes without splitting a character. */
export function truncateUtf8(value: string, maxBytes = MAX_ATTRIBUTE_VALUE_BYTES): string {
  if (Buffer.byteLength(value) <= maxBytes) return value;
  let out = '';
  let size = 0;
  for (const char of value) {
    const bytes = Buffer.byteLength(char);
    if (size + bytes > maxBytes - 3) break;
    out += char;
    size += bytes;
  }
  return `${out}...`;
}

function checkHeaders(headers: Readonly<Record<string, string>>): void {
  for (const key of Object.keys(headers)) {
    if (RESERVED_LOWER.has(key.toLowerCase()))
      throw new ConfigError(`headers.${key}`, 'this attribute name is reserved by the Pub/Sub driver');
  }
}

function checkAttributes(attributes: Readonly<Record<string, string>>): void {
  const keys = Object.keys(attributes);
  if (keys.length > MAX_SENT_ATTRIBUTES)
    throw new ConfigError(
      'headers',
      `Pub/Sub carries at most ${MAX_ATTRIBUTES} attributes per message; queuekit keeps 4 for dead letters, so ${MAX_SENT_ATTRIBUTES} with the job id and name`,
    );
  for (const key of keys) {
    if (
      key === '' ||
      Buffer.byteLength(key) > MAX_ATTRIBUTE_KEY_BYTES ||
      key.toLowerCase().startsWith('goog')
    )
      throw new ConfigError(
        `headers.${key}`,
        'Pub/Sub attribute keys are 1-256 bytes and must not start with "goog"',
      );
    if (Buffer.byteLength(attributes[key] ?? '') > MAX_ATTRIBUTE_VALUE_BYTES)
      throw new ConfigError(`headers.${key}`, 'Pub/Sub attribute values are limited to 1024 bytes');
  }
}

/** Map a core message to a Pub/Sub message; checks every limit before any network call. */
export function toPubsubMessage(message: OutgoingMessage, now = Date.now()): PubsubMessage {
  checkHeaders(message.headers);
  // The driver's own attributes are written after the headers, so they always win.
  const attributes: Record<string, string> = {
    ...message.headers,
    [A.id]: message.id,
    [A.name]: message.name,
  };
  if (message.delayMs !== undefined && message.delayMs > 0)
    attributes[A.deliverAt] = String(now + message.delayMs);
  checkAttributes(attributes);
  const out: PubsubMessage = {
    data: Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
    attributes,
    ...(message.orderingKey === undefined ? {} : { orderingKey: message.orderingKey }),
  };
  const size = pubsubSize(out);
  if (size > MAX_MESSAGE_BYTES) throw new PayloadTooLargeError(size, MAX_MESSAGE_BYTES, 'pubsub');
  return out;
}

/** A received message's attributes as a copy for re-publishing: driver attributes dropped, `headers` laid over. */
export function republishAttributes(
  attributes: Readonly<Record<string, string>>,
  headers: Readonly<Record<string, string>>,
  keep: readonly string[] = [A.id, A.name],
): Record<string, string> {
  const out: Record<string, string> = { ...headersOf(attributes), ...headers };
  for (const key of keep) {
    const value = attributes[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}
