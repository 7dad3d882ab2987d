import type { v1 } from '@google-cloud/pubsub';
import { ConfigError } from '@queuekit/core';
import type { QueueResources } from './names.js';
import { mapError, Status, statusOf } from './rpc.js';

/** What the driver needs to know about a queue's subscription. */
export interface SubscriptionInfo {
  /** The subscription's own ack deadline: how long a pulled message is held before the driver sets the lock. */
  readonly ackDeadlineSeconds: number;
  /** The native dead-letter policy's limit (every subscription used has a policy, so `deliveryAttempt` is reported). */
  readonly maxDeliveryAttempts: number;
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

/** The subscriptions a queue's consumers pull from. */
export interface QueueSubscriptions {
  /** Messages without an ordering key. */
  readonly main: SubscriptionInfo & { readonly name: string };
  /** Messages with an ordering key (only with `messageOrdering`). */
  readonly ordered: (SubscriptionInfo & { readonly name: string }) | undefined;
}

async function ensureSubscription(
  subscriber: v1.SubscriberClient,
  name: string,
  topic: string,
  ordered: boolean,
  resources: QueueResources,
  settings: AdminSettings,
): Promise<SubscriptionInfo & { readonly name: string }> {
  if (settings.createIfMissing) {
    const created = await ignoreExisting(
      subscriber.createSubscription({
        name,
        topic,
        ackDeadlineSeconds: settings.ackDeadlineSeconds,
        enableMessageOrdering: ordered,
        deadLetterPolicy: {
          deadLetterTopic: resources.deadLetterTopic,
          maxDeliveryAttempts: settings.maxDeliveryAttempts,
        },
      }),
    );
    if (created) {
      return {
        name,
        ackDeadlineSeconds: settings.ackDeadlineSeconds,
        maxDeliveryAttempts: settings.maxDeliveryAttempts,
      };
    }
  }
  const [subscription] = await subscriber.getSubscription({ subscription: name });
  const policy = subscription.deadLetterPolicy;
  if (!policy?.deadLetterTopic) {
    // Without a policy Pub/Sub reports no `deliveryAttempt`: a worker that crashes mid-job would never
    // be counted, and a crash-looping job would run forever. There is no redelivered flag to fall back on.
    throw new ConfigError(
      'subscription',
      `${name} has no dead-letter policy, so Pub/Sub does not count its deliveries; add one (any topic, e.g. ${resources.deadLetterTopic}, maxDeliveryAttempts 100) or let the driver create the subscription`,
    );
  }
  return {
    name,
    ackDeadlineSeconds: subscription.ackDeadlineSeconds || 10,
    maxDeliveryAttempts: policy.maxDeliveryAttempts || 5,
  };
}

/**
 * Create (when allowed) and describe the resources of a queue: its topic and subscription, the
 * ordered sibling pair (with `messageOrdering`), and the dead-letter topic with its subscription.
 */
export async function ensureQueue(
  publisher: v1.PublisherClient,
  subscriber: v1.SubscriberClient,
  resources: QueueResources,
  settings: AdminSettings,
): Promise<QueueSubscriptions> {
  try {
    if (settings.createIfMissing) {
      await Promise.all([
        ignoreExisting(publisher.createTopic({ name: resources.topic })),
        ignoreExisting(publisher.createTopic({ name: resources.deadLetterTopic })),
        ...(settings.messageOrdering
          ? [ignoreExisting(publisher.createTopic({ name: resources.orderedTopic }))]
          : []),
      ]);
      await ignoreExisting(
        subscriber.createSubscription({
          name: resources.deadLetterSubscription,
          topic: resources.deadLetterTopic,
          ackDeadlineSeconds: 60,
        }),
      );
    }
    const [main, ordered] = await Promise.all([
      ensureSubscription(subscriber, resources.subscription, resources.topic, false, resources, settings),
      settings.messageOrdering
        ? ensureSubscription(
            subscriber,
            resources.orderedSubscription,
            resources.orderedTopic,
            true,
            resources,
            settings,
          )
        : undefined,
    ]);
    return { main, ordered };
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
    await Promise.all(
      [resources.subscription, resources.orderedSubscription, resources.deadLetterSubscription].map(
        (subscription) => ignoreMissing(subscriber.deleteSubscription({ subscription })),
      ),
    );
    await Promise.all(
      [resources.topic, resources.orderedTopic, resources.deadLetterTopic].map((topic) =>
        ignoreMissing(publisher.deleteTopic({ topic })),
      ),
    );
  } catch (error) {
    throw mapError(error, 'queue deletion');
  }
}
