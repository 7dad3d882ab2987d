/**
 * Messages <-> AMQP: publish properties and headers, reading a received or dead-lettered message, and the
 * copies the driver publishes (given back, dead-lettered, redriven).
 */
import {
  ConfigError,
  CORE_HEADERS,
  type DeadLetteredMessage,
  type DeadLetterInfo,
  type OutgoingMessage,
  type ReceivedMessage,
} from '@queuekit/core';
import type { Message, MessageProperties, Options } from 'amqplib';
import type { RabbitMqQueueType } from './options.js';

/** One message to publish through the default exchange to `queue`. */
export interface Publication {
  readonly queue: string;
  readonly content: Buffer;
  readonly options: Options.Publish;
}

/** Headers of a dead-lettered copy: attempts made (core's count), when, and the original's deliveryCount. */
const ATTEMPTS = 'x-qk-dead-letter-attempts';
const DEAD_LETTERED_AT = 'x-qk-dead-lettered-at';
const DELIVERY_COUNT = 'x-qk-delivery-count';
/** Longest error text kept in a header (AMQP header tables are small). */
const MAX_ERROR_CHARS = 4_000;
const {
  deadLetterReason: REASON,
  deadLetterError: ERROR,
  contentType: CONTENT_TYPE,
  name: NAME,
} = CORE_HEADERS;
/** The broker's bookkeeping (`x-death`, `x-*-death-*`, `x-delivery-count`) and the driver's own (`x-qk-*`). */
const BOOKKEEPING = /^x-(qk-|death|first-death|last-death|delivery-count$)/;
const DEATH_FIELDS = ['exchange', 'queue', 'reason'];
const PROTO = '__proto__';

/**
 * Header names RabbitMQ (delivery count, death records) or the driver interprets, plus `CC` / `BCC`
 * (sender-selected distribution would route copies of the job to other queues). The core refuses them in user
 * headers; the driver drops them (and any `x-qk-*`) from what it publishes, so nothing user-set is read as
 * bookkeeping.
 */
export const RESERVED_HEADERS: readonly string[] = [
  'x-death',
  'x-delivery-count',
  ...DEATH_FIELDS.flatMap((field) => [`x-first-death-${field}`, `x-last-death-${field}`]),
  ...[ATTEMPTS, DEAD_LETTERED_AT, DELIVERY_COUNT, 'cc', 'bcc'],
];
const RESERVED = new Set(RESERVED_HEADERS);

function isReserved(name: string): boolean {
  // Every reserved name starts with x, c or b: most headers (`qk-*`, `traceparent`) need no lower-casing.
  const first = name.charCodeAt(0) | 0x20;
  if (first !== 0x78 && first !== 0x63 && first !== 0x62) return false;
  const lower = name.toLowerCase();
  return RESERVED.has(lower) || lower.startsWith('x-qk-');
}

/** The `app-id` of a message whose `qk-name` header was left out because it equals its `type` (the name). */
const NAMED_BY_TYPE = 'queuekit';

/**
 * AMQP publish options of an outgoing message: persistent; id, name, priority and content type as properties.
 * `qk-name` is left out of the headers table when it equals the name (`type`); `app-id` then says so, and reading
 * puts it back. (RabbitMQ and amqplib encode, parse and store each table entry apart; properties cost less.)
 */
export function publishOptions(message: OutgoingMessage): Options.Publish {
  const given = message.headers;
  const name = message.name;
  const headers: Record<string, string> = {};
  let inType = false;
  for (const key in given) {
    // `__proto__` never travels: the core refuses it in user headers, and amqplib could not read it back as a
    // string (it would assign it as a prototype, which ignores strings); one read from a foreign table stops here.
    if (key === CONTENT_TYPE || key === PROTO || !Object.hasOwn(given, key) || isReserved(key)) continue;
    const value = given[key]!;
    if (key === NAME && value === name && name !== '') inType = true;
    else headers[key] = value;
  }
  const timestamp = Math.floor(Date.now() / 1000);
  const options: Options.Publish = {
    persistent: true,
    messageId: message.id,
    type: name,
    timestamp,
    headers,
  };
  if (inType) options.appId = NAMED_BY_TYPE;
  // `content-type` travels as the AMQP property only (read back into the headers on receive).
  const contentType = given[CONTENT_TYPE];
  if (contentType !== undefined) options.contentType = contentType;
  if (message.priority !== undefined) options.priority = message.priority;
  checkHeadersTable(headers);
  return options;
}

/** amqplib encodes a message's headers table in one buffer of this size, and each name as a short string. */
const MAX_HEADERS_TABLE_BYTES = 65_536;

/**
 * Refuse headers amqplib cannot encode (a name over 255 bytes, a table over 64 KiB) with a `ConfigError` naming
 * them, before anything is published: amqplib throws a `RangeError` from `publish`, in the middle of a batch.
 * The size is the table's AMQP encoding: its length, then per entry the name's length and bytes, a type byte,
 * the value's length and bytes.
 */
export function checkHeadersTable(headers: Readonly<Record<string, string>>): void {
  let size = 4;
  for (const key in headers) {
    const bytes = Buffer.byteLength(key);
    if (bytes > 255)
      throw new ConfigError(`headers.${key}`, `an AMQP header name is at most 255 bytes, not ${bytes}`);
    size += 6 + bytes + Buffer.byteLength(headers[key] as string);
  }
  const most = MAX_HEADERS_TABLE_BYTES;
  if (size > most)
    throw new ConfigError('headers', `the headers encode to ${size} bytes; amqplib carries ${most}`);
}

/** The body as a Buffer without copying. */
export function toBuffer(body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

const NO_HEADERS: Record<string, unknown> = Object.freeze(Object.create(null));

/**
 * The message's header table as it came over the wire, its entries as own properties. amqplib decodes a table
 * by assignment (`fields[key] = value`), so a foreign header named `__proto__` whose value is a table (or an
 * array, bytes...) became the prototype of the decoded object instead of an entry: read as it is, that table's
 * keys would pass for headers (a forged `qk-attempt`) and the header itself would be lost. Such a message gets a
 * prototype-less copy with `__proto__` as a plain entry again; any other message's object is used as it is
 * (only its own keys are ever read).
 */
function headersOf(message: Message): Record<string, unknown> {
  const headers = message.properties.headers as Record<string, unknown> | undefined;
  if (headers === undefined || headers === null) return NO_HEADERS;
  const prototype = Object.getPrototypeOf(headers) as object | null;
  if (prototype === Object.prototype || prototype === null) return headers;
  const table = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(headers)) table[key] = headers[key];
  table[PROTO] = prototype; // a plain entry: the object has no prototype, so no `__proto__` setter
  return table;
}

/** A header as a string, if present (foreign publishers may send numbers, booleans, bytes or tables). */
function header(headers: Record<string, unknown>, key: string): string | undefined {
  const value = Object.hasOwn(headers, key) ? headers[key] : undefined;
  if (value === undefined || value === null || typeof value === 'string') return value ?? undefined;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return String(value);
  }
}

/**
 * The message's headers as the core sees them: string values, bookkeeping and dead-letter headers removed, and
 * `qk-name` back from `type` where the publisher left it out (`app-id` says so).
 */
function coreHeaders(message: Message): Record<string, string> {
  const out: Record<string, string> = {};
  const headers = headersOf(message);
  for (const key in headers) {
    if (!Object.hasOwn(headers, key) || BOOKKEEPING.test(key) || key === REASON || key === ERROR) continue;
    const value = header(headers, key);
    if (value === undefined) continue;
    // `__proto__` as an own key (assigning it would set the prototype); other names assign (no setter to hit).
    if (key === PROTO)
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    else out[key] = value;
  }
  const { contentType, type, appId } = message.properties as MessageProperties & Record<string, unknown>;
  if (out[CONTENT_TYPE] === undefined && typeof contentType === 'string') out[CONTENT_TYPE] = contentType;
  if (appId === NAMED_BY_TYPE && out[NAME] === undefined && typeof type === 'string' && type !== '')
    out[NAME] = type;
  return out;
}

/**
 * 1-based delivery count. Classic queues only say "redelivered" (reported as 2; the driver declares
 * `deliveryCount: 'flag'` and the core keeps the real count). Quorum queues count earlier deliveries in
 * `x-delivery-count`, trusted only on a message the broker flags as redelivered: on a first delivery that
 * header can only come from a publisher.
 */
function deliveryCountOf(message: Message, queueType: RabbitMqQueueType): number {
  if (!message.fields.redelivered) return 1;
  if (queueType === 'classic') return 2;
  const counted = Number(header(headersOf(message), 'x-delivery-count'));
  return Number.isSafeInteger(counted) && counted > 0 ? counted + 1 : 2;
}

/** The ReceivedMessage of an AMQP message; `fallbackId` names one a foreign publisher sent without `messageId`. */
export function received(message: Message, queueType: RabbitMqQueueType, fallbackId: () => string) {
  const props = message.properties;
  const timestamp = Number(props.timestamp);
  const priority = Number(props.priority);
  // Optional fields assigned, not spread: a spread after other properties takes V8's slow path (per job).
  const out: { -readonly [K in keyof ReceivedMessage]: ReceivedMessage[K] } = {
    id: typeof props.messageId === 'string' && props.messageId !== '' ? props.messageId : fallbackId(),
    body: message.content as Uint8Array,
    headers: coreHeaders(message),
    deliveryCount: deliveryCountOf(message, queueType),
    raw: message,
  };
  if (typeof props.type === 'string' && props.type !== '') out.name = props.type;
  if (Number.isFinite(timestamp) && timestamp > 0) out.enqueuedAt = new Date(timestamp * 1000);
  if (props.priority !== undefined && Number.isInteger(priority)) out.priority = priority;
  return out;
}

/** Properties a copy keeps from the original. */
const COPIED = [
  'messageId',
  'type',
  'timestamp',
  'contentType',
  'contentEncoding',
  'priority',
  'correlationId',
  'appId',
];

/** A persistent copy of `message` to `queue`: same properties, the headers `keep` accepts, then `extra`. */
function copy(
  queue: string,
  message: Message,
  keep: (key: string) => boolean,
  extra: object = {},
): Publication {
  // Prototype-less, so a `__proto__` entry is an entry (amqplib's encoder walks it with for...in, which lists it).
  const headers = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of Object.entries(headersOf(message))) if (keep(key)) headers[key] = value;
  for (const [key, value] of Object.entries(extra)) headers[key] = value;
  const options: Options.Publish & Record<string, unknown> = { persistent: true, headers };
  const props = message.properties as MessageProperties & Record<string, unknown>;
  for (const key of COPIED) if (props[key] !== undefined) options[key] = props[key];
  return { queue, content: message.content, options };
}

/** A fresh copy of a buffered message to put back in `queue` (no driver or delivery-count headers). */
export function givenBack(queue: string, message: Message): Publication {
  return copy(queue, message, (key) => !/^x-(qk-|delivery-count$)/.test(key));
}

/**
 * The copy of `message` that goes to a dead-letter queue, carrying reason, error and attempts. `lean` keeps only
 * the message's own `qk-*` headers of at most 1 KiB: for a message whose headers, with these added, are more than
 * amqplib can encode (see {@link checkHeadersTable}), so that it can still be dead-lettered.
 */
export function deadLettered(
  queue: string,
  message: Message,
  info: DeadLetterInfo,
  count: number,
  lean = false,
) {
  const headers = headersOf(message);
  const keep = lean
    ? (key: string) =>
        key.startsWith('qk-') && typeof headers[key] === 'string' && headers[key].length <= 1024
    : (key: string) => !key.startsWith('x-qk-');
  return copy(queue, message, keep, {
    [REASON]: info.reason,
    ...(info.error === undefined ? {} : { [ERROR]: info.error.slice(0, MAX_ERROR_CHARS) }),
    ...(info.attempts === undefined ? {} : { [ATTEMPTS]: String(info.attempts) }),
    [DEAD_LETTERED_AT]: String(Date.now()),
    [DELIVERY_COUNT]: String(count),
  });
}

/** A dead letter sent back to `queue` with `headers` applied and no bookkeeping left (a fresh delivery count). */
export function redriven(queue: string, message: Message, headers: Readonly<Record<string, string>>) {
  return copy(queue, message, (key) => !BOOKKEEPING.test(key) && key !== REASON && key !== ERROR, headers);
}

/** A message of a dead-letter queue as the core lists it (its delivery count as recorded when dead-lettered). */
export function asDeadLetter(message: Message): DeadLetteredMessage {
  const headers = headersOf(message);
  const own = (key: string) => (Object.hasOwn(headers, key) ? headers[key] : undefined);
  const [attempts, deliveryCount, at] = [ATTEMPTS, DELIVERY_COUNT, DEAD_LETTERED_AT].map((key) =>
    Number(header(headers, key)),
  ) as [number, number, number];
  const error = header(headers, ERROR);
  // Ours, or RabbitMQ's own `x-death` reason (`delivery-limit`...).
  const death = own('x-death');
  const first = Array.isArray(death) ? (death[0] as Record<string, unknown> | undefined) : undefined;
  const theirs = header({ reason: first?.reason ?? own('x-first-death-reason') }, 'reason');
  return {
    ...received(message, 'classic', () => `rabbitmq-dlq-${message.fields.deliveryTag}`),
    deliveryCount: Number.isInteger(deliveryCount) && deliveryCount > 0 ? deliveryCount : 1,
    reason: header(headers, REASON) ?? theirs?.replace(/_/g, '-') ?? 'unknown',
    ...(error === undefined ? {} : { error }),
    ...(Number.isInteger(attempts) && attempts > 0 ? { attempts } : {}),
    ...(Number.isFinite(at) && at > 0 ? { deadLetteredAt: new Date(at) } : {}),
  };
}
