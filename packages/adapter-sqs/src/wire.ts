import { isUtf8 } from 'node:buffer';
import { createHash, randomUUID } from 'node:crypto';
import type { Message, MessageAttributeValue, SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import type { DeadLetterInfo, OutgoingMessage, ReceivedMessage } from '@queuekit/core';
import { cutText, DEAD_LETTER_HEADERS, readMessage } from '@queuekit/core/driver-kit';

/**
 * The driver's attributes (SQS allows 10): `qk-id` (SQS assigns its own MessageId), headers as one JSON object; on
 * FIFO queues `qk-due` (epoch ms) and `qk-key`, the ordering key as sent (the group id may be its hash).
 */
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
/** Ids, names and keys go verbatim when printable ASCII, else as a JSON string (`"..."` escaped). */
const asciiSafe = (value: string) =>
  /^[\x20-\x7e]*$/.test(value) && value[0] !== '"' ? value : asciiJson(value);

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

/** The SendMessageBatch entry `m<index>` of a message and its size; `due` (FIFO delays) adds `qk-due`. */
export function toEntry(index: number, message: OutgoingMessage, fifo: boolean, due?: number) {
  const bytes = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength);
  const text = isUtf8(bytes) ? bytes.toString() : '';
  const base64 = text === '' || UNSAFE.test(text);
  // SQS refuses an empty body, and base64 of nothing is empty too: `-` stands for it.
  const body = !base64 ? text : bytes.byteLength ? bytes.toString('base64') : '-';
  const name = message.name || 'default';
  const attributes: Record<string, MessageAttributeValue> = {};
  // Every value is ASCII (escaped, or base64), so its length is its size: summed as SQS counts it (wireSize).
  let size = base64 ? body.length : bytes.byteLength;
  const add = (key: string, value: string) => {
    attributes[key] = { DataType: 'String', StringValue: value };
    size += key.length + 6 + value.length;
  };
  add(ATTR.id, asciiSafe(message.id));
  // The core's messages carry their name in the `qk-name` header already: one attribute less to hash.
  if (message.headers[ATTR.name] !== name) add(ATTR.name, asciiSafe(name));
  add(ATTR.headers, asciiJson(message.headers));
  if (base64) add(ATTR.encoding, 'base64');
  if (message.orderingKey !== undefined) add(ATTR.key, asciiSafe(message.orderingKey));
  if (due !== undefined) add(ATTR.due, String(due));
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

/**
 * Read an SQS message: headers from `qk-headers` (strings only, no prototype), or for a foreign message its
 * String attributes (its id: the MessageId). In a dead-letter queue, one SQS moved itself is `max-receive-count`.
 */
export function fromWire(raw: Message, fifo: boolean, deadLetters: boolean): ReadMessage {
  const attr = (name: string) => raw.MessageAttributes?.[name]?.StringValue;
  const ours = attr(ATTR.id) !== undefined;
  const source = ours ? parseJson(attr(ATTR.headers)) : raw.MessageAttributes;
  const headers: Record<string, string> = Object.create(null);
  if (typeof source === 'object' && source !== null && !Array.isArray(source))
    for (const [key, value] of Object.entries(source)) {
      const text: unknown = ours ? value : (value as MessageAttributeValue).StringValue;
      if (typeof text === 'string') headers[key] = text;
    }
  const id = fromAsciiSafe(attr(ATTR.id)) ?? raw.MessageId ?? '';
  const name = fromAsciiSafe(attr(ATTR.name)) ?? (ours ? headers[ATTR.name] : undefined);
  const sent = Number(raw.Attributes?.SentTimestamp);
  const receiveCount = Math.max(1, Number(raw.Attributes?.ApproximateReceiveCount) || 1);
  // Foreign messages, and ours sent before `qk-key` existed: the group is the key unless it is the job id.
  const group = raw.Attributes?.MessageGroupId;
  const key =
    fromAsciiSafe(attr(ATTR.key)) ??
    (group?.startsWith(HASHED_ID_PREFIX) || group === id ? undefined : group);
  const base64 = ours && attr(ATTR.encoding) === 'base64';
  const body = raw.Body === '-' && base64 ? '' : (raw.Body ?? '');
  // A due time more than 20 min ahead (the 15 min native maximum plus 5 min of clock skew) was not written
  // by this driver: it is ignored, so a forged attribute cannot park a message for years.
  const dueAt = ours && fifo ? Number(attr(ATTR.due)) : Number.NaN;
  const due = dueAt > 0 && dueAt <= Date.now() + 20 * 60_000 ? dueAt : undefined;
  // Less the receive of a FIFO message the driver held back for its due time (one: a due time is at most
  // 20 min ahead and a hold lasts until then).
  const first = Number(raw.Attributes?.ApproximateFirstReceiveTimestamp);
  const held = due !== undefined && first > 0 && first < due;
  const message: ReceivedMessage = {
    id,
    ...(name === undefined ? {} : { name }),
    body: new Uint8Array(Buffer.from(body, base64 ? 'base64' : 'utf8')),
    headers,
    deliveryCount: held ? Math.max(1, receiveCount - 1) : receiveCount,
    ...(sent > 0 ? { enqueuedAt: new Date(sent) } : {}),
    ...(fifo && key !== undefined ? { orderingKey: key } : {}),
    raw,
  };
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
