import { isUtf8 } from 'node:buffer';
import { createHash, randomUUID } from 'node:crypto';
import type { Message, MessageAttributeValue, SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import type { DeadLetterInfo, OutgoingMessage, ReceivedMessage } from '@queuekit/core';
import { cutText, DEAD_LETTER_HEADERS, nullPrototypeRecord, readMessage } from '@queuekit/core/driver-kit';

/**
 * What the driver writes: one String attribute, `qk-meta`, a JSON object (non-ASCII escaped) of the job id
 * (`id`: SQS assigns its own MessageId), the headers (`headers`) and, when needed, `name` (when the `qk-name`
 * header does not carry it), `encoding` (`base64`), the ordering key as sent (`key`, the group id may be its
 * hash) and on FIFO queues the due time (`due`, epoch ms). One attribute for the SDK and the service to encode,
 * parse and hash, not two to six. Messages written before it carry `qk-id`, `qk-headers` and the others as
 * attributes of their own: they are read as before ({@link ATTR}).
 */
const META = 'qk-meta';
/** The attributes of the earlier layout, still read. */
const ATTR = {
  id: 'qk-id',
  name: 'qk-name',
  headers: 'qk-headers',
  encoding: 'qk-body-encoding',
  due: 'qk-due',
  key: 'qk-key',
};
// SQS takes #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF in a body; bodies beyond U+FFFF
// (emoji) go as base64 too: some emulators refuse them.
const UNSAFE = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD]/u;
const escapeUnit = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
/** JSON with every non-ASCII character escaped, so attribute values never hit the service's character rules. */
const asciiJson = (value: unknown) => JSON.stringify(value).replace(/[\u007f-\uffff]/g, escapeUnit);
function parseJson(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

function fromAsciiSafe(value: string | undefined): string | undefined {
  const parsed = value?.startsWith('"') ? parseJson(value) : value;
  return typeof parsed === 'string' ? parsed : value;
}

/** Size of a message as SQS counts it against `MaximumMessageSize` (body, attribute names, types, values). */
export function wireSize(body: string, attributes: Record<string, MessageAttributeValue>): number {
  let size = Buffer.byteLength(body);
  for (const [name, { DataType = '', StringValue = '' }] of Object.entries(attributes))
    size += Buffer.byteLength(name) + Buffer.byteLength(DataType) + Buffer.byteLength(StringValue);
  return size;
}

/** The SendMessageBatch entry `m<index>` of a message and its size; `due`: a FIFO delay's due time (epoch ms). */
export function toEntry(index: number, message: OutgoingMessage, fifo: boolean, due?: number) {
  const bytes = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
  const text = isUtf8(bytes) ? bytes.toString() : '';
  const base64 = text === '' || UNSAFE.test(text);
  // SQS refuses an empty body, and base64 of nothing is empty too: `-` stands for it.
  const body = !base64 ? text : bytes.byteLength ? bytes.toString('base64') : '-';
  const name = message.name || 'default';
  // Fields left undefined are left out by JSON.stringify. The core's messages carry their name in the
  // `qk-name` header already.
  const meta = asciiJson({
    id: message.id,
    name: message.headers[ATTR.name] === name ? undefined : name,
    encoding: base64 ? 'base64' : undefined,
    key: message.orderingKey,
    due,
    headers: message.headers,
  });
  const attributes: Record<string, MessageAttributeValue> = {
    [META]: { DataType: 'String', StringValue: meta },
  };
  // Every value is ASCII (escaped, or base64), so its length is its size: summed as SQS counts it (wireSize).
  const size = (base64 ? body.length : bytes.byteLength) + META.length + 6 + meta.length;
  const entry: SendMessageBatchRequestEntry = {
    Id: `m${index}`,
    MessageBody: body,
    MessageAttributes: attributes,
  };
  if (fifo) {
    // No ordering key: a group of its own, so unrelated jobs never wait for each other.
    entry.MessageGroupId = fifoId(message.orderingKey ?? message.id);
    // Copies re-sent by the core carry the same job id without `dedup`: they must not be dropped.
    entry.MessageDeduplicationId = message.dedup ? fifoId(message.id) : randomUUID();
  } else if (message.delayMs && message.delayMs > 0)
    entry.DelaySeconds = Math.min(900, Math.ceil(message.delayMs / 1000));
  return { entry, size };
}

/** Prefix of FIFO ids that are a hash of the job id or ordering key. */
export const HASHED_ID_PREFIX = 'qk-sha256-';

/**
 * A FIFO deduplication or group id: 1-128 characters of `[!-~]` go as they are; any other value, and any starting
 * with the hash prefix (so that the mapping stays one-to-one), becomes the prefix plus its SHA-256.
 */
export function fifoId(value: string): string {
  if (/^[!-~]{1,128}$/.test(value) && !value.startsWith(HASHED_ID_PREFIX)) return value;
  return `${HASHED_ID_PREFIX}${createHash('sha256').update(value, 'utf8').digest('base64url')}`;
}

/** A received SQS message as the core reads it, and its FIFO due time (epoch ms) if any. */
export type ReadMessage = { message: ReceivedMessage; due: number | undefined };

/** What either layout says of a message, before the parts common to both. */
interface Parts {
  readonly id: string;
  readonly name: string | undefined;
  readonly headers: Record<string, string>;
  readonly base64: boolean;
  readonly key: string | undefined;
  /** The FIFO due time as written (epoch ms), NaN when none. */
  readonly due: number;
}

const asString = (value: unknown) => (typeof value === 'string' ? value : undefined);

/** The string values of `source` (through `pick`) in an object without prototype; nothing from a non-object. */
function strings(source: unknown, pick: (value: unknown) => unknown): Record<string, string> {
  const out = nullPrototypeRecord<string>();
  if (typeof source === 'object' && source !== null && !Array.isArray(source))
    for (const [key, value] of Object.entries(source)) {
      const string = pick(value);
      if (typeof string === 'string') out[key] = string;
    }
  return out;
}

function partsOf(raw: Message): Parts {
  const attributes = raw.MessageAttributes;
  const attr = (name: string) => attributes?.[name]?.StringValue;
  const meta = parseJson(attr(META));
  if (typeof meta === 'object' && meta !== null && !Array.isArray(meta)) {
    const fields = meta as Record<string, unknown>;
    const headers = strings(fields.headers, (value) => value);
    return {
      id: asString(fields.id) ?? raw.MessageId ?? '',
      name: asString(fields.name) ?? headers[ATTR.name],
      headers,
      base64: fields.encoding === 'base64',
      key: asString(fields.key),
      due: typeof fields.due === 'number' ? fields.due : Number.NaN,
    };
  }
  // The earlier layout (`qk-id` marks it), or a foreign message (a malformed `qk-meta` too): its String
  // attributes are its headers, its id the MessageId.
  const ours = attr(ATTR.id) !== undefined;
  const headers = ours
    ? strings(parseJson(attr(ATTR.headers)), (value) => value)
    : strings(attributes, (value) => (value as MessageAttributeValue).StringValue);
  return {
    id: fromAsciiSafe(attr(ATTR.id)) ?? raw.MessageId ?? '',
    name: fromAsciiSafe(attr(ATTR.name)) ?? (ours ? headers[ATTR.name] : undefined),
    headers,
    base64: ours && attr(ATTR.encoding) === 'base64',
    key: fromAsciiSafe(attr(ATTR.key)),
    due: ours ? Number(attr(ATTR.due)) : Number.NaN,
  };
}

/**
 * Read an SQS message: id and headers (strings only, no prototype) from `qk-meta`, from the earlier layout's
 * `qk-id` and `qk-headers`, or for a foreign message its String attributes (its id: the MessageId). In a
 * dead-letter queue, one SQS moved itself is `max-receive-count`.
 */
export function fromWire(raw: Message, fifo: boolean, deadLetters: boolean): ReadMessage {
  const { id, name, headers, base64, key: written, due: dueAt } = partsOf(raw);
  const system = raw.Attributes;
  const sent = Number(system?.SentTimestamp);
  const receiveCount = Math.max(1, Number(system?.ApproximateReceiveCount) || 1);
  // Foreign messages, and ours sent before `qk-key` existed: the group is the key unless it is the job id.
  const group = system?.MessageGroupId;
  const key = written ?? (group?.startsWith(HASHED_ID_PREFIX) || group === id ? undefined : group);
  const body = raw.Body === '-' && base64 ? '' : (raw.Body ?? '');
  // A due time more than 20 min ahead (the 15 min native maximum plus 5 min of clock skew) was not written
  // by this driver: it is ignored, so a forged attribute cannot park a message for years.
  const due = fifo && dueAt > 0 && dueAt <= Date.now() + 20 * 60_000 ? dueAt : undefined;
  // Less the receive of a FIFO message the driver held back for its due time (one: a due time is at most
  // 20 min ahead and a hold lasts until then).
  const first = Number(system?.ApproximateFirstReceiveTimestamp);
  const held = due !== undefined && first > 0 && first < due;
  // Built in one shape, optional fields added after (no spreads: V8's fast path for the literal).
  const message: { -readonly [K in keyof ReceivedMessage]: ReceivedMessage[K] } = {
    id,
    body: new Uint8Array(Buffer.from(body, base64 ? 'base64' : 'utf8')),
    headers,
    deliveryCount: held ? Math.max(1, receiveCount - 1) : receiveCount,
    raw,
  };
  if (name !== undefined) message.name = name;
  if (sent > 0) message.enqueuedAt = new Date(sent);
  if (fifo && key !== undefined) message.orderingKey = key;
  if (deadLetters) {
    headers[DEAD_LETTER_HEADERS.reason] ??= 'max-receive-count';
    // The attempts made: the receives before this one (a listing's own receive counts too).
    const before = readMessage({ ...message, deliveryCount: receiveCount - 1 });
    headers[DEAD_LETTER_HEADERS.attempts] ??= String(before.attempt);
  }
  return { message, due };
}

/** Longest error text kept in a dead letter, in bytes as sent (JSON, non-ASCII escaped). */
export const MAX_DEAD_LETTER_ERROR_BYTES = 4096;

/** `text` cut so that its JSON form (non-ASCII escaped) is at most `maxBytes`, code point by code point. */
export function cutForAttribute(text: string, maxBytes: number): string {
  return cutText(text, maxBytes - 2, (char) => asciiJson(char).length - 2);
}

/**
 * `info` with its error text cut to 4 KiB as sent, and to the room left when the dead-letter copy of `raw`
 * (with the other dead-letter headers) would not fit the queue's `MaximumMessageSize` otherwise.
 */
export function fitDeadLetter(raw: Message, { error, ...info }: DeadLetterInfo, maxBytes: number) {
  const size = wireSize(raw.Body ?? '', raw.MessageAttributes ?? {}) + 160 + asciiJson(info.reason).length;
  const room = Math.min(MAX_DEAD_LETTER_ERROR_BYTES, maxBytes - size);
  return error !== undefined && room > 8 ? { ...info, error: cutForAttribute(error, room) } : info;
}
