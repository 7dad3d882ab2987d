import type { v1 } from '@google-cloud/pubsub';
import type { DeadLetteredMessage, RedriveOptions } from '@queuekit/core';
import type { SubscriptionInfo } from './admin.js';
import {
  A,
  headersOf,
  NATIVE_DEAD_LETTER_PREFIX,
  type PubsubMessage,
  republishAttributes,
} from './attributes.js';
import type { QueueResources } from './names.js';
import { topicFor } from './receiver.js';
import { mapError, type PublishBatcher, type PulledMessage, type SettleBatcher } from './rpc.js';

/** Attribute the real service adds to a message forwarded by the dead-letter policy. */
const SOURCE_DELIVERY_COUNT = `${NATIVE_DEAD_LETTER_PREFIX}SourceDeliveryCount`;

/** What the dead-letter operations need from the driver. */
export interface DeadLetterContext {
  readonly subscriber: v1.SubscriberClient;
  readonly settle: SettleBatcher;
  readonly publisher: PublishBatcher;
}

/**
 * Pull everything currently in the dead-letter subscription (up to `limit`), holding each message
 * under lease so a later pull of the same sweep returns others. Distinct by message id.
 */
async function sweep(ctx: DeadLetterContext, subscription: string, limit: number): Promise<PulledMessage[]> {
  const seen = new Map<string, PulledMessage>();
  try {
    while (seen.size < limit) {
      const [response] = await ctx.subscriber.pull(
        { subscription, maxMessages: Math.min(1000, limit - seen.size), returnImmediately: true },
        { timeout: 30_000 },
      );
      const got = response.receivedMessages ?? [];
      if (got.length === 0) break;
      let added = 0;
      for (const message of got) {
        const id = message.message?.messageId ?? message.ackId ?? '';
        if (!seen.has(id)) added++;
        seen.set(id, message);
      }
      if (added === 0) break;
    }
  } catch (error) {
    throw mapError(error, 'dead-letter pull');
  }
  return [...seen.values()];
}

function releaseAll(ctx: DeadLetterContext, subscription: string, messages: readonly PulledMessage[]) {
  return ctx.settle.modAck(
    subscription,
    messages.map((message) => message.ackId ?? ''),
    0,
  );
}

/** Map a message of the dead-letter subscription to the portable shape. */
export function toDeadLettered(pulled: PulledMessage, info: SubscriptionInfo): DeadLetteredMessage {
  const message = pulled.message ?? {};
  const attributes = message.attributes ?? {};
  const data = message.data;
  const body =
    data instanceof Uint8Array
      ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data ?? '', 'base64');
  const publishTime = message.publishTime?.seconds
    ? new Date(
        Number(message.publishTime.seconds) * 1000 + Math.floor((message.publishTime.nanos ?? 0) / 1e6),
      )
    : undefined;
  const byCore = attributes[A.reason] !== undefined;
  const sourceCount = Number(attributes[SOURCE_DELIVERY_COUNT] ?? 0);
  const nativeCount =
    Number.isSafeInteger(sourceCount) && sourceCount > 0 ? sourceCount : info.maxDeliveryAttempts;
  // Bounded: another producer may have written these attributes.
  const counted = Number(attributes[A.attempts] ?? Number.NaN);
  const attempts = Number.isSafeInteger(counted) && counted >= 1 ? counted : Number.NaN;
  const deadLetteredAt = Number(attributes[A.deadLetteredAt] ?? Number.NaN);
  return {
    id: attributes[A.id] ?? message.messageId ?? '',
    ...(attributes[A.name] === undefined ? {} : { name: attributes[A.name] }),
    body,
    headers: headersOf(attributes),
    deliveryCount: byCore ? 1 : nativeCount,
    ...(message.orderingKey ? { orderingKey: message.orderingKey } : {}),
    raw: pulled,
    reason: byCore ? (attributes[A.reason] ?? 'unknown') : 'max-delivery-attempts',
    ...(byCore
      ? attributes[A.error] === undefined
        ? {}
        : { error: attributes[A.error] }
      : { error: `Pub/Sub dead-letter policy: delivered ${nativeCount} times without acknowledgement` }),
    ...(Number.isFinite(attempts) ? { attempts } : {}),
    ...(Number.isFinite(deadLetteredAt) && deadLetteredAt > 0 && deadLetteredAt < 8.64e15
      ? { deadLetteredAt: new Date(deadLetteredAt) }
      : publishTime
        ? { deadLetteredAt: publishTime }
        : {}),
  };
}

/** List up to `limit` dead letters without consuming them (they are nacked right after). */
export async function listDeadLetters(
  ctx: DeadLetterContext,
  resources: QueueResources,
  info: SubscriptionInfo,
  limit: number,
): Promise<DeadLetteredMessage[]> {
  const pulled = await sweep(ctx, resources.deadLetterSubscription, limit);
  await releaseAll(ctx, resources.deadLetterSubscription, pulled).catch(() => undefined);
  return pulled.map((message) => toDeadLettered(message, info));
}

/** Publish dead letters back to the queue's topic (headers laid over), then ack them in the dead-letter subscription. */
export async function redriveDeadLetters(
  ctx: DeadLetterContext,
  resources: QueueResources,
  ordered: boolean,
  options: RedriveOptions,
): Promise<number> {
  const pulled = await sweep(ctx, resources.deadLetterSubscription, Number.POSITIVE_INFINITY);
  const wanted = options.ids ? new Set(options.ids) : undefined;
  const move: PulledMessage[] = [];
  const keep: PulledMessage[] = [];
  for (const message of pulled) {
    const attributes = message.message?.attributes ?? {};
    const id = attributes[A.id] ?? message.message?.messageId ?? '';
    (wanted && !wanted.has(id) ? keep : move).push(message);
  }
  try {
    const byTopic = new Map<string, PubsubMessage[]>();
    for (const pulled of move) {
      const message = pulled.message ?? {};
      const topic = topicFor(resources, message.orderingKey, ordered);
      byTopic.set(topic, [
        ...(byTopic.get(topic) ?? []),
        {
          data: message.data ?? Buffer.alloc(0),
          attributes: republishAttributes(message.attributes ?? {}, options.headers),
          ...(message.orderingKey ? { orderingKey: message.orderingKey } : {}),
        },
      ]);
    }
    await Promise.all([...byTopic].map(([topic, copies]) => ctx.publisher.publish(topic, copies)));
    await Promise.all(
      move.map((message) => ctx.settle.ack(resources.deadLetterSubscription, message.ackId ?? '')),
    );
  } finally {
    await releaseAll(ctx, resources.deadLetterSubscription, keep).catch(() => undefined);
  }
  return move.length;
}

/** Acknowledge (delete) every dead letter of the queue; resolves with the count. */
export async function purgeDeadLetters(ctx: DeadLetterContext, resources: QueueResources): Promise<number> {
  let purged = 0;
  for (;;) {
    const pulled = await sweep(ctx, resources.deadLetterSubscription, 10_000);
    if (pulled.length === 0) return purged;
    await Promise.all(
      pulled.map((message) => ctx.settle.ack(resources.deadLetterSubscription, message.ackId ?? '')),
    );
    purged += pulled.length;
  }
}
