/**
 * queuekit messages <-> Service Bus messages (README, "How it maps"). `messageId` is the job id only when the send
 * asks for deduplication, else a fresh UUID: copies re-sent by the core must not be dropped as duplicates.
 */
import { randomUUID } from 'node:crypto';
import type { DeadLetterOptions, ServiceBusMessage, ServiceBusReceivedMessage } from '@azure/service-bus';
import type { DeadLetteredMessage, DeadLetterInfo, OutgoingMessage, ReceivedMessage } from '@queuekit/core';

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

/** `text` cut to at most `max` UTF-16 units, ending with a marker, never inside a surrogate pair. */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const marker = '…[truncated]';
  let end = max - marker.length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}${marker}`;
}

/**
 * The properties of a dead-lettering: Service Bus caps `DeadLetterErrorDescription` at 4,096 characters; the
 * reason (a short code) is kept to 1,024. Both count in the message's 64 KB header quota.
 */
export function deadLetterProperties(
  info: DeadLetterInfo,
): DeadLetterOptions & Record<string, string | number> {
  return {
    deadLetterReason: truncate(info.reason, 1024),
    deadLetterErrorDescription: truncate(info.error ?? '', 4096),
    [DEAD_LETTERED_AT]: Date.now(),
    ...(info.attempts === undefined ? {} : { [ATTEMPTS]: info.attempts }),
  };
}

export function toServiceBusMessage(message: OutgoingMessage): ServiceBusMessage {
  const contentType = message.headers['content-type'];
  return {
    body: Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
    messageId: message.dedup ? message.id : randomUUID(),
    subject: message.name,
    ...(contentType === undefined ? {} : { contentType }),
    applicationProperties: { ...message.headers, [ID]: message.id },
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

/**
 * What a received SDK message shows under `util.inspect` and `JSON.stringify`: its Service Bus fields, not its rhea
 * delivery (which links back to the connection and is circular), its body or its AMQP form. The object stays the
 * SDK's own, so `job.raw` keeps working with the SDK's settle and renew calls.
 */
function guard(message: ServiceBusReceivedMessage): void {
  if (Object.hasOwn(message, 'toJSON')) return;
  const view = () => {
    const { delivery, _rawAmqpMessage, body, sequenceNumber, ...fields } =
      message as ServiceBusReceivedMessage & {
        delivery?: unknown;
      };
    return { ...fields, sequenceNumber: sequenceNumber?.toString() };
  };
  Object.defineProperty(message, 'toJSON', { value: view, configurable: true });
  Object.defineProperty(message, Symbol.for('nodejs.util.inspect.custom'), {
    value: (_depth: number, options: object, inspect: (value: unknown, options: object) => string) =>
      `ServiceBusReceivedMessage ${inspect(view(), options)}`,
    configurable: true,
  });
}

/** The queuekit view of a received message. */
export function toReceivedMessage(message: ServiceBusReceivedMessage): ReceivedMessage {
  const props = message.applicationProperties ?? {};
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(props)) {
    if (OWN.has(key) || value === undefined || value === null) continue;
    headers[key] = value instanceof Date ? value.toISOString() : String(value);
  }
  if (headers['content-type'] === undefined && message.contentType)
    headers['content-type'] = message.contentType;
  guard(message);
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
