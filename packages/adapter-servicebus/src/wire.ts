/**
 * Mapping between queuekit messages and Service Bus messages.
 *
 * - body: the encoded bytes as an AMQP data section (a Buffer body in the SDK);
 * - job name: `subject`; headers: application properties (string values), `content-type` also
 *   as the message's `contentType`;
 * - job id: application property `x-queuekit-id`. `messageId` is the job id only when the send
 *   asks for deduplication, otherwise a fresh UUID, so that copies re-sent by the core (retries,
 *   delay hops) are not dropped by duplicate detection.
 */
import { randomUUID } from 'node:crypto';
import type { ServiceBusMessage, ServiceBusReceivedMessage } from '@azure/service-bus';
import type { OutgoingMessage, ReceivedMessage } from '@queuekit/core';

/** Application property carrying the job id. */
export const ID_PROPERTY = 'x-queuekit-id';
/** Application property with the attempts counted by the core when dead-lettered. */
export const ATTEMPTS_PROPERTY = 'x-queuekit-attempts';
/** Application property with the time (ms since epoch) of dead-lettering. */
export const DEAD_LETTERED_AT_PROPERTY = 'x-queuekit-dead-lettered-at';
/** Application properties Service Bus sets on dead-lettered messages. */
export const DEAD_LETTER_REASON = 'DeadLetterReason';
export const DEAD_LETTER_DESCRIPTION = 'DeadLetterErrorDescription';

/** Application property the SDK reads as the W3C trace parent of a received message (its tracing). */
export const DIAGNOSTIC_ID_PROPERTY = 'Diagnostic-Id';

const DRIVER_PROPERTIES = new Set([
  ID_PROPERTY,
  ATTEMPTS_PROPERTY,
  DEAD_LETTERED_AT_PROPERTY,
  DEAD_LETTER_REASON,
  DEAD_LETTER_DESCRIPTION,
]);

/**
 * Header names a user may not send (the core refuses them): the driver's own properties, which it
 * overwrites or drops from received headers (a user header `DeadLetterReason` would vanish), and
 * `Diagnostic-Id`, which the SDK takes as the message's trace parent.
 */
export const RESERVED_HEADERS: readonly string[] = Object.freeze([
  ...DRIVER_PROPERTIES,
  DIAGNOSTIC_ID_PROPERTY,
]);

/**
 * `DeadLetterErrorDescription` is at most 4,096 characters on Service Bus; the reason is kept to 1,024
 * (it is a short code; both are application properties, inside the message's 64 KB header quota).
 */
export const MAX_DEAD_LETTER_DESCRIPTION = 4096;
export const MAX_DEAD_LETTER_REASON = 1024;
const TRUNCATED = '…[truncated]';

/** `text` cut to at most `max` UTF-16 units, ending with a marker, never inside a surrogate pair. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - TRUNCATED.length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}${TRUNCATED}`;
}

/** A Service Bus message for `message`. */
export function toServiceBusMessage(message: OutgoingMessage): ServiceBusMessage {
  const contentType = message.headers['content-type'];
  return {
    body: Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
    messageId: message.dedup ? message.id : randomUUID(),
    subject: message.name,
    ...(contentType === undefined ? {} : { contentType }),
    applicationProperties: { ...message.headers, [ID_PROPERTY]: message.id },
  };
}

/** The body as bytes, whatever AMQP body type the sender used. */
export function bodyBytes(body: unknown): Uint8Array {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (Array.isArray(body) && body.every((part) => part instanceof Uint8Array)) return Buffer.concat(body);
  // An AMQP value or sequence body (sent by a non-queuekit producer): its JSON form.
  return Buffer.from(JSON.stringify(body), 'utf8');
}

/** Application properties as string headers, without the driver's and the broker's own keys. */
export function headersOf(message: ServiceBusReceivedMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(message.applicationProperties ?? {})) {
    if (DRIVER_PROPERTIES.has(key) || value === undefined || value === null) continue;
    headers[key] = value instanceof Date ? value.toISOString() : String(value);
  }
  if (headers['content-type'] === undefined && message.contentType)
    headers['content-type'] = message.contentType;
  return headers;
}

/**
 * What a received SDK message shows of itself under `util.inspect` and `JSON.stringify`: its Service Bus
 * fields, not its rhea delivery (which links back to the connection, about 800 KB of text at depth 10, and
 * cannot be turned into JSON: it is circular). The object stays the SDK's own (`job.raw` keeps working with
 * the SDK's settle and renew calls).
 */
function safeView(message: ServiceBusReceivedMessage): Record<string, unknown> {
  const view: Record<string, unknown> = {
    messageId: message.messageId,
    sequenceNumber: message.sequenceNumber?.toString(),
    subject: message.subject,
    contentType: message.contentType,
    correlationId: message.correlationId,
    deliveryCount: message.deliveryCount,
    enqueuedTimeUtc: message.enqueuedTimeUtc,
    lockedUntilUtc: message.lockedUntilUtc,
    expiresAtUtc: message.expiresAtUtc,
    state: message.state,
    deadLetterReason: message.deadLetterReason,
    deadLetterErrorDescription: message.deadLetterErrorDescription,
    deadLetterSource: message.deadLetterSource,
    applicationProperties: message.applicationProperties,
  };
  for (const key of Object.keys(view)) if (view[key] === undefined) delete view[key];
  return view;
}

/** Give `message` a safe `toJSON` and `util.inspect` view (once; non-enumerable). */
function guard(message: ServiceBusReceivedMessage): void {
  if (Object.hasOwn(message, 'toJSON')) return;
  Object.defineProperty(message, 'toJSON', { value: () => safeView(message), configurable: true });
  Object.defineProperty(message, Symbol.for('nodejs.util.inspect.custom'), {
    value: (_depth: number, options: object, inspect: (value: unknown, options: object) => string) =>
      `ServiceBusReceivedMessage ${inspect(safeView(message), options)}`,
    configurable: true,
  });
}

/** The queuekit view of a received message. `deliveryCount` is made 1-based (the JS SDK's is 0-based). */
export function toReceivedMessage(message: ServiceBusReceivedMessage): ReceivedMessage {
  const props = message.applicationProperties ?? {};
  const jobId = props[ID_PROPERTY];
  guard(message);
  return {
    id: typeof jobId === 'string' ? jobId : String(message.messageId ?? message.sequenceNumber ?? ''),
    ...(message.subject ? { name: message.subject } : {}),
    body: bodyBytes(message.body),
    headers: headersOf(message),
    // @azure/service-bus 7.9.5 reports the AMQP header delivery-count as is: 0 on the first
    // delivery (its own tests assert 0), while Service Bus documents DeliveryCount as 1-based.
    deliveryCount: (message.deliveryCount ?? 0) + 1,
    ...(message.enqueuedTimeUtc ? { enqueuedAt: message.enqueuedTimeUtc } : {}),
    raw: message,
  };
}
