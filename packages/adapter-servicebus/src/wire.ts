/**
 * queuekit messages <-> Service Bus messages (README, "How it maps"). `messageId` is the job id only when the send
 * asks for deduplication, else a fresh UUID: copies re-sent by the core must not be dropped as duplicates.
 */
import { randomUUID } from 'node:crypto';
import type { DeadLetterOptions, ServiceBusMessage, ServiceBusReceivedMessage } from '@azure/service-bus';
import type { DeadLetteredMessage, DeadLetterInfo, OutgoingMessage, ReceivedMessage } from '@queuekit/core';
import { cutText, PACKED_HEADERS, packCoreHeaders, unpackCoreHeaders } from '@queuekit/core/driver-kit';

const ID = 'x-queuekit-id';
/** The attempts counted by the core, and the time (epoch ms) of dead-lettering, on a dead letter. */
const ATTEMPTS = 'x-queuekit-attempts';
export const DEAD_LETTERED_AT = 'x-queuekit-dead-lettered-at';
/** The driver's application properties, and those Service Bus sets on dead letters. */
const OWN = new Set([ID, ATTEMPTS, DEAD_LETTERED_AT, 'DeadLetterReason', 'DeadLetterErrorDescription']);

/**
 * Header names a user may not send (the core refuses them): the driver's own properties, which it overwrites
 * or drops from received headers (a user header `DeadLetterReason` would vanish), and `Diagnostic-Id`, which
 * the SDK takes as the message's trace parent.
 */
export const RESERVED_HEADERS: readonly string[] = Object.freeze([...OWN, 'Diagnostic-Id']);

/** Service Bus counts these limits in characters (UTF-16 units); the kit cuts at whole code points. */
const units = (char: string) => char.length;

/**
 * The properties of a dead-lettering: Service Bus caps `DeadLetterErrorDescription` at 4,096 characters; the
 * reason (a short code) is kept to 1,024. Both count in the message's 64 KB header quota.
 */
export function deadLetterProperties(
  info: DeadLetterInfo,
): DeadLetterOptions & Record<string, string | number> {
  return {
    deadLetterReason: cutText(info.reason, 1024, units),
    deadLetterErrorDescription: cutText(info.error ?? '', 4096, units),
    [DEAD_LETTERED_AT]: Date.now(),
    ...(info.attempts === undefined ? {} : { [ATTEMPTS]: info.attempts }),
  };
}

/**
 * `content-type` travels as the message's `contentType` only (read back as that header); the core's other headers
 * (`qk-*`) as one JSON application property, `qk-packed` (README, "Wire layout"): rhea encodes, and the SDK and
 * the broker parse, each application property apart, and the core writes four or more on every message.
 */
export function toServiceBusMessage(message: OutgoingMessage): ServiceBusMessage {
  const { 'content-type': contentType, ...rest } = message.headers;
  const applicationProperties = packCoreHeaders(rest);
  applicationProperties[ID] = message.id;
  return {
    body: Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
    messageId: message.dedup ? message.id : randomUUID(),
    subject: message.name,
    ...(contentType === undefined ? {} : { contentType }),
    applicationProperties,
  };
}

/** The body as bytes, whatever AMQP body type the sender used. */
function bodyBytes(body: unknown): Uint8Array {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Array.isArray(body) && body.every((part) => part instanceof Uint8Array)) return Buffer.concat(body);
  // An AMQP value or sequence body (sent by a non-queuekit producer): its JSON form.
  return Buffer.from(JSON.stringify(body), 'utf8');
}

/** A received message's Service Bus fields, without its rhea delivery, body and AMQP form (`this`: the message). */
function view(this: ServiceBusReceivedMessage) {
  const { delivery, _rawAmqpMessage, body, sequenceNumber, ...fields } = this as ServiceBusReceivedMessage & {
    delivery?: unknown;
  };
  return { ...fields, sequenceNumber: sequenceNumber?.toString() };
}

/**
 * What a received SDK message shows under `util.inspect` and `JSON.stringify`: its {@link view}, not its rhea
 * delivery (which links back to the connection and is circular). The object stays the SDK's own, so `job.raw`
 * keeps working with the SDK's settle and renew calls. One set of descriptors for every message (no closures).
 */
const SAFE_VIEW: PropertyDescriptorMap = {
  toJSON: { value: view, configurable: true },
  [Symbol.for('nodejs.util.inspect.custom')]: {
    value(
      this: ServiceBusReceivedMessage,
      _depth: number,
      options: object,
      inspect: (value: unknown, options: object) => string,
    ) {
      return `ServiceBusReceivedMessage ${inspect(view.call(this), options)}`;
    },
    configurable: true,
  },
};

/** The queuekit view of a received message. */
export function toReceivedMessage(message: ServiceBusReceivedMessage): ReceivedMessage {
  const props = message.applicationProperties ?? {};
  let headers: Record<string, string> = {};
  for (const key in props) {
    const value = props[key];
    if (OWN.has(key) || value === undefined || value === null) continue;
    headers[key] = value instanceof Date ? value.toISOString() : String(value);
  }
  // Sent before the packed layout (or by another producer): no `qk-packed`, the headers as they are. A forged
  // entry stays a `qk-packed` header, which the core ignores.
  if (PACKED_HEADERS in headers) headers = unpackCoreHeaders(headers);
  if (headers['content-type'] === undefined && message.contentType)
    headers['content-type'] = message.contentType;
  if (!Object.hasOwn(message, 'toJSON')) Object.defineProperties(message, SAFE_VIEW);
  return {
    id: typeof props[ID] === 'string' ? props[ID] : String(message.messageId ?? message.sequenceNumber ?? ''),
    ...(message.subject ? { name: message.subject } : {}),
    body: bodyBytes(message.body),
    headers,
    // @azure/service-bus 7.9.5 reports the AMQP header delivery-count as is: 0 on the first delivery (its
    // own tests assert 0), while Service Bus documents DeliveryCount as 1-based, as the core counts.
    deliveryCount: (message.deliveryCount ?? 0) + 1,
    ...(message.enqueuedTimeUtc ? { enqueuedAt: message.enqueuedTimeUtc } : {}),
    raw: message,
  };
}

/** A listed dead letter: reason and description from Service Bus, attempts and time from the driver's properties. */
export function toDeadLettered(message: ServiceBusReceivedMessage): DeadLetteredMessage {
  const { deadLetterReason: reason, deadLetterErrorDescription: error } = message;
  const attempts = message.applicationProperties?.[ATTEMPTS];
  const at = Number(message.applicationProperties?.[DEAD_LETTERED_AT]);
  return {
    ...toReceivedMessage(message),
    reason: reason || 'unknown',
    ...(error ? { error } : {}),
    ...(attempts !== undefined && Number.isFinite(Number(attempts)) ? { attempts: Number(attempts) } : {}),
    ...(at > 0 ? { deadLetteredAt: new Date(at) } : {}),
  };
}
