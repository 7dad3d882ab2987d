import type { v1 } from '@google-cloud/pubsub';
import { ConfigError } from '@queuekit/core';
import type { QueueResources } from './names.js';
import { mapError, Status, statusOf } from './rpc.js';

/** What the driver needs to know about a queue's subscription. */
export interface SubscriptionInfo {
  /** The subscription's own ack deadline: how long a pulled message is held before the driver sets the lock. */
  readonly ackDeadlineSeconds: number;
  /** Whether `deliveryAttempt` is reported (only with a dead-letter policy). */
  readonly countsDeliveries: boolean;
  /** The native policy's limit, when there is one. */
  readonly maxDeliveryAttempts: number | undefined;
}

/** Settings for the resources the driver creates. */
export interface AdminSettings {
  readonly createIfMissing: boolean;
  readonly ackDeadlineSeconds: number;
  readonly maxDeliveryAttempts: number;
  readonly messageOrdering: boolean;
}

async function ignoreExisting(work: Promise<unknown>): Promise<boolean> {
  try {
    await work;
    return true;
  } catch (error) {
    if (statusOf(error) === Status.ALREADY_EXISTS) return false;
    throw error;
  }
}

async function ignoreMissing(work: Promise<unknown>): Promise<void> {
  try {
    await work;
  } catch (error) {
    if (statusOf(error) !== Status.NOT_FOUND) throw error;
  }
}

/** Create (when allowed) and describe the topic, subscription and dead-letter pair of a queue. */
export async function ensureQueue(
  publisher: v1.PublisherClient,
  subscriber: v1.SubscriberClient,
  resources: QueueResources,
  settings: AdminSettings,
): Promise<SubscriptionInfo> {
  try {
    if (settings.createIfMissing) {
      await Promise.all([
        ignoreExisting(publisher.createTopic({ name: resources.topic })),
        ignoreExisting(publisher.createTopic({ name: resources.deadLetterTopic })),
      ]);
      const [created] = await Promise.all([
        ignoreExisting(
          subscriber.createSubscription({
            name: resources.subscription,
            topic: resources.topic,
            ackDeadlineSeconds: settings.ackDeadlineSeconds,
            enableMessageOrdering: settings.messageOrdering,
            deadLetterPolicy: {
              deadLetterTopic: resources.deadLetterTopic,
              maxDeliveryAttempts: settings.maxDeliveryAttempts,
            },
          }),
        ),
        ignoreExisting(
          subscriber.createSubscription({
            name: resources.deadLetterSubscription,
            topic: resources.deadLetterTopic,
            ackDeadlineSeconds: 60,
          }),
        ),
      ]);
      if (created) {
        return {
          ackDeadlineSeconds: settings.ackDeadlineSeconds,
          countsDeliveries: true,
          maxDeliveryAttempts: settings.maxDeliveryAttempts,
        };
      }
    }
    const [subscription] = await subscriber.getSubscription({ subscription: resources.subscription });
    const policy = subscription.deadLetterPolicy;
    return {
      ackDeadlineSeconds: subscription.ackDeadlineSeconds || 10,
      countsDeliveries: Boolean(policy?.deadLetterTopic),
      maxDeliveryAttempts: policy?.deadLetterTopic ? policy.maxDeliveryAttempts || 5 : undefined,
    };
  } catch (error) {
    if (statusOf(error) === Status.NOT_FOUND) {
      throw new ConfigError(
        'createIfMissing',
        `a topic or subscription of this queue does not exist (${resources.subscription}) and createIfMissing is false`,
      );
    }
    throw mapError(error, 'queue setup');
  }
}

/** Delete a queue's subscriptions and topics; missing ones are fine. */
export async function deleteQueueResources(
  publisher: v1.PublisherClient,
  subscriber: v1.SubscriberClient,
  resources: QueueResources,
): Promise<void> {
  try {
    await Promise.all([
      ignoreMissing(subscriber.deleteSubscription({ subscription: resources.subscription })),
      ignoreMissing(subscriber.deleteSubscription({ subscription: resources.deadLetterSubscription })),
    ]);
    await Promise.all([
      ignoreMissing(publisher.deleteTopic({ topic: resources.topic })),
      ignoreMissing(publisher.deleteTopic({ topic: resources.deadLetterTopic })),
    ]);
  } catch (error) {
    throw mapError(error, 'queue deletion');
  }
}
