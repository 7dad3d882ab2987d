import { createHash, randomUUID } from 'node:crypto';
import type { DeadLetterInfo, OutgoingMessage } from '@queuekit/core';
import type { Message, MessageAttributeValue, SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';

/** Message attribute names this driver writes. Everything queuekit-specific travels in a few attributes (SQS allows 10). */
export const ATTR = {
  /** The job id (SQS assigns its own MessageId, so copies with the same job id are accepted). */
  id: 'qk-id',
  /** The job name. */
  name: 'qk-name',
  /** Every header, as one JSON object. */
  headers: 'qk-headers',
  /** `base64` when the body is not SQS-safe text. */
  encoding: 'qk-body-encoding',
  /** FIFO queues only: epoch ms before which the driver keeps the message hidden. */
  due: 'qk-due',
  /** FIFO queues only: the ordering key as sent (the MessageGroupId may be its hash). */
  key: 'qk-key',
  /** Dead letters only: `{ reason, error, attempts, at }` as JSON. */
  deadLetter: 'qk-dead-letter',
} as const;

/** What a message becomes on the wire. */
export interface WireMessage {
  readonly body: string;
  readonly attributes: Record<string, MessageAttributeValue>;
  /** Size as SQS counts it (body plus attribute names, types and values). */
  readonly size: number;
}

const strict = new TextDecoder('utf-8', { fatal: true });
// Characters SQS refuses in a message body: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF only.
const UNSAFE = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
// The same without the supplementary planes, for services that refuse them (some emulators).
const UNSAFE_BMP = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD]/u;

/**
 * Body bytes as an SQS body: text when it is valid UTF-8 that SQS accepts, base64 otherwise.
 * `astral` false also sends text with characters beyond U+FFFF (emoji) as base64.
 */
export function encodeBody(body: Uint8Array, astral = true): { text: string; base64: boolean } {
  if (body.byteLength > 0) {
    try {
      const text = strict.decode(body);
      if (!(astral ? UNSAFE : UNSAFE_BMP).test(text)) return { text, base64: false };
    } catch {
      // not UTF-8: fall through
    }
  }
  // SQS refuses an empty body too; base64 of nothing is also empty, so mark it with a single `=`-free placeholder.
  return { text: body.byteLength === 0 ? '-' : Buffer.from(body).toString('base64'), base64: true };
}

/** Inverse of {@link encodeBody}. */
export function decodeBody(text: string, encoding: string | undefined): Uint8Array {
  if (encoding === 'base64')
    return text === '-' ? new Uint8Array(0) : new Uint8Array(Buffer.from(text, 'base64'));
  return new Uint8Array(Buffer.from(text, 'utf8'));
}

function str(value: string): MessageAttributeValue {
  return { DataType: 'String', StringValue: value };
}

/** Size of a message as SQS counts it against `MaximumMessageSize`. */
export function wireSize(body: string, attributes: Record<string, MessageAttributeValue>): number {
  let size = Buffer.byteLength(body);
  for (const [name, value] of Object.entries(attributes)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '');
    if (value.StringValue !== undefined) size += Buffer.byteLength(value.StringValue);
    if (value.BinaryValue !== undefined) size += value.BinaryValue.byteLength;
  }
  return size;
}

/** Encode an outgoing message; `extra` adds attributes (dead-letter info, FIFO due time). */
export function toWire(
  message: Pick<OutgoingMessage, 'id' | 'name' | 'body' | 'headers' | 'orderingKey'>,
  extra: Record<string, string> = {},
  astral = true,
): WireMessage {
  const { text, base64 } = encodeBody(message.body, astral);
  const attributes: Record<string, MessageAttributeValue> = {
    [ATTR.id]: str(asciiSafe(message.id)),
    [ATTR.name]: str(asciiSafe(message.name || 'default')),
    [ATTR.headers]: str(asciiJson(message.headers)),
  };
  if (base64) attributes[ATTR.encoding] = str('base64');
  if (message.orderingKey !== undefined) attributes[ATTR.key] = str(asciiSafe(message.orderingKey));
  for (const [key, value] of Object.entries(extra)) attributes[key] = str(value);
  return { body: text, attributes, size: wireSize(text, attributes) };
}

/** JSON with every non-ASCII character escaped, so attribute values never hit the service's character rules. */
export function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Ids and names go in attributes verbatim when they are printable ASCII, else as a JSON string (`"..."` escaped). */
function asciiSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) && !value.startsWith('"') ? value : asciiJson(value);
}

/** Inverse of {@link asciiSafe}. */
export function fromAsciiSafe(value: string | undefined): string | undefined {
  if (value === undefined || !value.startsWith('"')) return value;
  try {
    return JSON.parse(value) as string;
  } catch {
    return value;
  }
}

/** Turn a text entry refused by the service into a base64 one (same bytes). */
export function toBase64Entry(entry: SendMessageBatchRequestEntry): SendMessageBatchRequestEntry {
  const attributes = { ...entry.MessageAttributes, [ATTR.encoding]: str('base64') };
  return {
    ...entry,
    MessageBody: Buffer.from(entry.MessageBody ?? '', 'utf8').toString('base64'),
    MessageAttributes: attributes,
  };
}

/** The SendMessageBatch entry for a message. */
export function batchEntry(
  index: number,
  wire: WireMessage,
  message: Pick<OutgoingMessage, 'id' | 'delayMs' | 'orderingKey' | 'dedup'>,
  fifo: boolean,
): SendMessageBatchRequestEntry {
  const entry: SendMessageBatchRequestEntry = {
    Id: `m${index}`,
    MessageBody: wire.body,
    MessageAttributes: wire.attributes,
  };
  if (fifo) {
    // No ordering key: a group of its own, so unrelated jobs never wait for each other.
    entry.MessageGroupId = fifoId(message.orderingKey ?? message.id);
    // Copies re-sent by the core carry the same job id without `dedup`: they must not be dropped.
    entry.MessageDeduplicationId = message.dedup ? fifoId(message.id) : randomUUID();
  } else if (message.delayMs && message.delayMs > 0) {
    entry.DelaySeconds = Math.min(900, Math.ceil(message.delayMs / 1000));
  }
  return entry;
}

/** Prefix of FIFO ids that are a hash of the job id or ordering key. */
export const HASHED_ID_PREFIX = 'qk-sha256-';

/**
 * A FIFO deduplication or message group id for `value`: SQS allows 1-128 characters of `[!-~]`.
 * Such values go as they are; any other value, and any value that starts with the hash prefix
 * (so the mapping stays one-to-one), becomes the prefix plus its SHA-256 in base64url.
 */
export function fifoId(value: string): string {
  if (/^[!-~]{1,128}$/.test(value) && !value.startsWith(HASHED_ID_PREFIX)) return value;
  return `${HASHED_ID_PREFIX}${createHash('sha256').update(value, 'utf8').digest('base64url')}`;
}

/**
 * How far ahead of this process's clock a `qk-due` may lie, in ms: the longest native delay
 * (15 min) plus 5 min of clock skew between producer and consumer. A later due time was not
 * written by this driver (or the clocks are far apart): it is ignored, so a forged attribute
 * cannot park a message for years.
 */
export const MAX_DUE_AHEAD_MS = 20 * 60_000;

/** The queuekit fields read back from an SQS message. */
export interface DecodedMessage {
  readonly id: string;
  readonly name: string | undefined;
  readonly body: Uint8Array;
  readonly headers: Record<string, string>;
  readonly receiveCount: number;
  readonly sentAt: Date | undefined;
  /** The MessageGroupId (FIFO queues). */
  readonly groupId: string | undefined;
  /** The ordering key as sent (FIFO queues), if the message had one. */
  readonly orderingKey: string | undefined;
  /** Epoch ms the message is due (FIFO delays), bounded by {@link MAX_DUE_AHEAD_MS}. */
  readonly due: number | undefined;
  readonly deadLetter: (DeadLetterInfo & { at?: number }) | undefined;
}

function attr(message: Message, name: string): string | undefined {
  return message.MessageAttributes?.[name]?.StringValue;
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Headers as a prototype-less object of strings; anything else in the attribute is dropped. */
function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return out;
  for (const [key, item] of Object.entries(value)) if (typeof item === 'string') out[key] = item;
  return out;
}

/** The `qk-dead-letter` record, keeping only well-typed fields (another producer may have written it). */
function deadLetterRecord(value: unknown): (DeadLetterInfo & { at?: number }) | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.reason !== 'string') return undefined;
  const { reason, error, attempts, at } = record;
  return {
    reason,
    ...(typeof error === 'string' ? { error } : {}),
    ...(Number.isSafeInteger(attempts) && (attempts as number) >= 1 ? { attempts: attempts as number } : {}),
    ...(Number.isFinite(at) && (at as number) > 0 ? { at: at as number } : {}),
  };
}

/** Read an SQS message; messages not sent by queuekit get their MessageId and String attributes as headers. */
export function fromWire(message: Message, now = Date.now()): DecodedMessage {
  const ours = attr(message, ATTR.id) !== undefined;
  let headers = stringRecord(undefined);
  if (ours) headers = stringRecord(parseJson(attr(message, ATTR.headers)));
  else {
    for (const [key, value] of Object.entries(message.MessageAttributes ?? {}))
      if (value.StringValue !== undefined) headers[key] = value.StringValue;
  }
  const id = fromAsciiSafe(attr(message, ATTR.id)) ?? message.MessageId ?? '';
  const sent = Number(message.Attributes?.SentTimestamp);
  const due = ours ? Number(attr(message, ATTR.due)) : Number.NaN;
  const groupId = message.Attributes?.MessageGroupId;
  const key = attr(message, ATTR.key);
  return {
    id,
    name: fromAsciiSafe(attr(message, ATTR.name)),
    body: decodeBody(message.Body ?? '', ours ? attr(message, ATTR.encoding) : undefined),
    headers,
    receiveCount: Math.max(1, Number(message.Attributes?.ApproximateReceiveCount) || 1),
    sentAt: Number.isFinite(sent) && sent > 0 ? new Date(sent) : undefined,
    groupId,
    orderingKey:
      key !== undefined
        ? fromAsciiSafe(key)
        : // Foreign messages, and ours sent before `qk-key` existed: the group is the key unless it is the job id.
          groupId !== undefined && groupId !== id && !groupId.startsWith(HASHED_ID_PREFIX)
          ? groupId
          : undefined,
    due: Number.isFinite(due) && due > 0 && due <= now + MAX_DUE_AHEAD_MS ? due : undefined,
    deadLetter: ours ? deadLetterRecord(parseJson(attr(message, ATTR.deadLetter))) : undefined,
  };
}

/**
 * Longest error text kept in a dead letter's `qk-dead-letter` attribute, in bytes as sent
 * (JSON with non-ASCII escaped). SQS has no per-attribute limit, but every attribute counts
 * against the queue's `MaximumMessageSize`: the text is also cut further when the message would
 * not fit otherwise.
 */
export const MAX_DEAD_LETTER_ERROR_BYTES = 4096;
const CUT_MARK = '...';

/** `text` cut so that its JSON form (non-ASCII escaped) is at most `maxBytes`, code point by code point. */
export function cutForAttribute(text: string, maxBytes: number): string {
  if (asciiJson(text).length <= maxBytes) return text;
  const budget = maxBytes - 2 - CUT_MARK.length;
  let out = '';
  let used = 0;
  for (const char of text) {
    const cost = asciiJson(char).length - 2;
    if (used + cost > budget) break;
    out += char;
    used += cost;
  }
  return `${out}${CUT_MARK}`;
}

/**
 * The wire form of a dead letter: the message plus a `qk-dead-letter` record whose error text is
 * cut to {@link MAX_DEAD_LETTER_ERROR_BYTES} and to the room left under `maxBytes`.
 */
export function deadLetterWire(
  message: Pick<OutgoingMessage, 'id' | 'name' | 'body' | 'headers' | 'orderingKey'>,
  info: DeadLetterInfo,
  maxBytes: number,
  astral: boolean,
  now = Date.now(),
): WireMessage {
  const record = (error: string | undefined) =>
    asciiJson({
      reason: info.reason,
      ...(error === undefined ? {} : { error }),
      ...(info.attempts === undefined ? {} : { attempts: info.attempts }),
      at: now,
    });
  const without = toWire(message, { [ATTR.deadLetter]: record(undefined) }, astral);
  if (info.error === undefined) return without;
  // `,"error":` plus the quoted text: what the error adds to the record.
  const room = Math.min(MAX_DEAD_LETTER_ERROR_BYTES, maxBytes - without.size - ',"error":'.length);
  if (room < 2 + CUT_MARK.length + 1) return without;
  return toWire(message, { [ATTR.deadLetter]: record(cutForAttribute(info.error, room)) }, astral);
}
