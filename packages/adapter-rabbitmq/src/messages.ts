import { CORE_HEADERS, type DeadLetterInfo, type OutgoingMessage } from '@queuekit/core';
import type { Message, Options } from 'amqplib';
import type { RabbitMqQueueType } from './options.js';

/** Prefix of the driver's own AMQP headers, stripped before messages reach the core. */
export const DRIVER_HEADER_PREFIX = 'x-qk-';
/** Header of a dead-lettered copy: attempts made, as counted by the core. */
export const ATTEMPTS_HEADER = 'x-qk-dead-letter-attempts';
/** Header of a dead-lettered copy: when it was dead-lettered (ms epoch). */
export const DEAD_LETTERED_AT_HEADER = 'x-qk-dead-lettered-at';
/** Header of a dead-lettered copy: deliveryCount of the original when it was dead-lettered. */
export const DELIVERY_COUNT_HEADER = 'x-qk-delivery-count';
/** Longest error text kept in a header (AMQP header tables are small). */
const MAX_ERROR_CHARS = 4_000;

/** Headers RabbitMQ adds itself; they are not part of the job. */
const BROKER_HEADERS = new Set([
  'x-death',
  'x-first-death-exchange',
  'x-first-death-queue',
  'x-first-death-reason',
  'x-last-death-exchange',
  'x-last-death-queue',
  'x-last-death-reason',
  'x-delivery-count',
]);

/**
 * Header names the driver or RabbitMQ interprets: the broker's own (delivery count, death records),
 * the driver's dead-letter bookkeeping, and `CC` / `BCC` (sender-selected distribution: RabbitMQ
 * would route copies of the job to other queues). The core refuses them in user headers.
 */
export const RESERVED_HEADERS: readonly string[] = [
  ...BROKER_HEADERS,
  ATTEMPTS_HEADER,
  DEAD_LETTERED_AT_HEADER,
  DELIVERY_COUNT_HEADER,
  'cc',
  'bcc',
];

const RESERVED = new Set(RESERVED_HEADERS);

/** Whether the driver or the broker would read `name` itself (compared case-insensitively). */
export function isReservedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return RESERVED.has(lower) || lower.startsWith(DRIVER_HEADER_PREFIX);
}

/** AMQP publish options of an outgoing message: persistent, id, name and priority as properties. */
export function publishOptions(message: OutgoingMessage): Options.Publish {
  // `content-type` travels as the AMQP property only (read back into the headers on receive).
  const { [CORE_HEADERS.contentType]: contentType, ...given } = message.headers;
  // Reserved names never reach the broker from a send (the core refuses them; direct driver users
  // and foreign headers copied along get them dropped), so nothing user-set is read as bookkeeping.
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(given)) if (!isReservedHeader(key)) headers[key] = value;
  const options: Options.Publish = {
    persistent: true,
    messageId: message.id,
    type: message.name,
    timestamp: Math.floor(Date.now() / 1000),
    headers,
  };
  if (contentType !== undefined) options.contentType = contentType;
  if (message.priority !== undefined) options.priority = message.priority;
  return options;
}

/** The body as a Buffer without copying. */
export function toBuffer(body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** A header value as a string (foreign publishers may send numbers, booleans, bytes or tables). */
function headerString(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return String(value);
  }
}

/** The message's headers as the core sees them: string values, broker and driver headers removed. */
export function coreHeaders(message: Message): Record<string, string> {
  const out: Record<string, string> = {};
  const raw = (message.properties.headers ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(raw)) {
    if (
      BROKER_HEADERS.has(key) ||
      key.startsWith(DRIVER_HEADER_PREFIX) ||
      value === undefined ||
      value === null
    )
      continue;
    if (key === CORE_HEADERS.deadLetterReason || key === CORE_HEADERS.deadLetterError) continue;
    out[key] = headerString(value);
  }
  const contentType = message.properties.contentType as unknown;
  if (out[CORE_HEADERS.contentType] === undefined && typeof contentType === 'string') {
    out[CORE_HEADERS.contentType] = contentType;
  }
  return out;
}

/**
 * 1-based delivery count. Classic queues only say "redelivered" (reported as 2; the driver declares
 * `deliveryCount: 'flag'` and the core keeps the real count). Quorum queues count earlier deliveries
 * in `x-delivery-count`, trusted only on a message the broker flags as redelivered: on a first
 * delivery that header can only come from a publisher.
 */
export function deliveryCountOf(message: Message, queueType: RabbitMqQueueType): number {
  if (!message.fields.redelivered) return 1;
  if (queueType === 'classic') return 2;
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const counted = Number(headers['x-delivery-count']);
  return Number.isSafeInteger(counted) && counted > 0 ? counted + 1 : 2;
}

/**
 * The fields of a ReceivedMessage read from an AMQP message. `fallbackId` names a message that came
 * without a `messageId` (a foreign publisher); a function is called only then.
 */
export function receivedFields(
  message: Message,
  fallbackId: string | (() => string),
  queueType: RabbitMqQueueType,
) {
  const props = message.properties;
  const id =
    typeof props.messageId === 'string' && props.messageId !== ''
      ? props.messageId
      : typeof fallbackId === 'function'
        ? fallbackId()
        : fallbackId;
  const timestamp = Number(props.timestamp);
  const priority = Number(props.priority);
  return {
    id,
    ...(typeof props.type === 'string' && props.type !== '' ? { name: props.type as string } : {}),
    body: message.content as Uint8Array,
    headers: coreHeaders(message),
    deliveryCount: deliveryCountOf(message, queueType),
    ...(Number.isFinite(timestamp) && timestamp > 0 ? { enqueuedAt: new Date(timestamp * 1000) } : {}),
    ...(props.priority !== undefined && Number.isInteger(priority) ? { priority } : {}),
    raw: message,
  };
}

/** Publish options of the dead-lettered copy of `message`, carrying reason, error and attempts. */
export function deadLetterOptions(
  message: Message,
  info: DeadLetterInfo,
  deliveryCount: number,
): Options.Publish {
  const props = message.properties;
  const headers: Record<string, unknown> = {};
  for (const [key, value] of Object.entries((props.headers ?? {}) as Record<string, unknown>)) {
    if (!key.startsWith(DRIVER_HEADER_PREFIX)) headers[key] = value;
  }
  headers[CORE_HEADERS.deadLetterReason] = info.reason;
  if (info.error !== undefined) headers[CORE_HEADERS.deadLetterError] = info.error.slice(0, MAX_ERROR_CHARS);
  if (info.attempts !== undefined) headers[ATTEMPTS_HEADER] = String(info.attempts);
  headers[DEAD_LETTERED_AT_HEADER] = String(Date.now());
  headers[DELIVERY_COUNT_HEADER] = String(deliveryCount);
  return copyOptions(message, headers);
}

/** Publish options of an identical, fresh copy of `message` (driver and delivery-count headers dropped). */
export function requeueOptions(message: Message): Options.Publish {
  const headers: Record<string, unknown> = {};
  for (const [key, value] of Object.entries((message.properties.headers ?? {}) as Record<string, unknown>)) {
    if (!key.startsWith(DRIVER_HEADER_PREFIX) && key !== 'x-delivery-count') headers[key] = value;
  }
  return copyOptions(message, headers);
}

/** Publish options of a copy of `message` with `headers`: same id, name, type, priority and timestamp. */
export function copyOptions(message: Message, headers: Record<string, unknown>): Options.Publish {
  const props = message.properties;
  return {
    persistent: true,
    headers,
    ...(props.messageId === undefined ? {} : { messageId: props.messageId }),
    ...(props.type === undefined ? {} : { type: props.type }),
    ...(props.timestamp === undefined ? {} : { timestamp: props.timestamp }),
    ...(props.contentType === undefined ? {} : { contentType: props.contentType }),
    ...(props.contentEncoding === undefined ? {} : { contentEncoding: props.contentEncoding }),
    ...(props.priority === undefined ? {} : { priority: props.priority }),
    ...(props.correlationId === undefined ? {} : { correlationId: props.correlationId }),
  };
}

/** Why a message sits in the dead-letter queue: ours, or RabbitMQ's own `x-death` reason. */
export function deadLetterReason(message: Message): string {
  const headers = (message.properties.headers ?? {}) as Record<string, unknown>;
  const ours = headers[CORE_HEADERS.deadLetterReason];
  if (ours !== undefined) return headerString(ours);
  const death = headers['x-death'];
  const first = Array.isArray(death) ? (death[0] as { reason?: unknown } | undefined) : undefined;
  if (first?.reason !== undefined) return headerString(first.reason).replace(/_/g, '-');
  const firstReason = headers['x-first-death-reason'];
  return firstReason === undefined ? 'unknown' : headerString(firstReason).replace(/_/g, '-');
}

/** A header of a dead-lettered copy as a string, if present. */
export function rawHeader(message: Message, key: string): string | undefined {
  const value = ((message.properties.headers ?? {}) as Record<string, unknown>)[key];
  return value === undefined || value === null ? undefined : headerString(value);
}
