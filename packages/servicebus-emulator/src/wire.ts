/** Wire details shared by the link and management layers. */
import type { AmqpMessage, StoredMessage } from './entity.js';

/** .NET Guid byte order swap of the first three groups; its own inverse. */
export function reorderGuid(bytes: Buffer): Buffer {
  return Buffer.from([
    bytes[3] ?? 0,
    bytes[2] ?? 0,
    bytes[1] ?? 0,
    bytes[0] ?? 0,
    bytes[5] ?? 0,
    bytes[4] ?? 0,
    bytes[7] ?? 0,
    bytes[6] ?? 0,
    ...bytes.subarray(8, 16),
  ]);
}

/**
 * The message as Service Bus delivers it: header `delivery-count` (0-based on the wire), and the
 * annotations `x-opt-sequence-number`, `x-opt-enqueued-time`, `x-opt-locked-until`
 * (https://learn.microsoft.com/azure/service-bus-messaging/service-bus-amqp-protocol-guide#message-annotations).
 */
export function encodeForDelivery(stored: StoredMessage, lockedUntil: number): AmqpMessage {
  const annotations: Record<string, unknown> = {
    ...stored.message.message_annotations,
    'x-opt-sequence-number': stored.sequenceNumber,
    'x-opt-enqueued-time': new Date(stored.enqueuedAt),
  };
  if (lockedUntil > 0) annotations['x-opt-locked-until'] = new Date(lockedUntil);
  if (stored.state === 'deferred') annotations['x-opt-message-state'] = 1;
  else if (stored.state === 'scheduled') annotations['x-opt-message-state'] = 2;
  return { ...stored.message, delivery_count: stored.failedDeliveries, message_annotations: annotations };
}
