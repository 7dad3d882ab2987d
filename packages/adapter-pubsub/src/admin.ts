import { type PubSub, v1 } from '@google-cloud/pubsub';
import { ConfigError } from '@queuekit/core';
import { call, Status, statusOf } from './errors.js';
import { ADMIN_CALL, type ResolvedOptions } from './options.js';
import { type QueueResources, Requests } from './wire.js';

/** The driver's gRPC clients and the requests made with them. */
export interface Clients {
  readonly projectId: string;
  readonly publisher: v1.PublisherClient;
  readonly subscriber: v1.SubscriberClient;
  readonly requests: Requests;
}

/** A subscription a queue's consumers pull from, as the driver uses it. */
export interface Subscription {
  readonly name: string;
  /** The subscription's own ack deadline: how long a pulled message is held before the driver sets the lock. */
  readonly ackDeadlineSeconds: number;
  /** The native dead-letter policy's limit (every subscription used has a policy, so `deliveryAttempt` is reported). */
  readonly maxDeliveryAttempts: number;
}

/** The subscriptions of a queue: messages without an ordering key, and with one (only with `messageOrdering`). */
export interface QueueSubscriptions {
  readonly main: Subscription;
  readonly ordered: Subscription | undefined;
}

/** A queue's resources, as made ready by {@link ensureQueue}, and the clients that reach them. */
export interface QueueHandle {
  readonly clients: Clients;
  readonly resources: QueueResources;
  readonly subscriptions: QueueSubscriptions;
}

type Settings = Pick<
  ResolvedOptions,
  'createIfMissing' | 'ackDeadlineSeconds' | 'maxDeliveryAttempts' | 'messageOrdering'
>;

/** Google's public universe, the one the emulator stands in for. */
const DEFAULT_UNIVERSE = 'googleapis.com';

/** Open the gRPC clients on the configuration `pubsub` resolved (project, emulator, credentials). */
export function connect(pubsub: PubSub): Promise<Clients> {
  return call('connect', async () => {
    const config = await pubsub.getClientConfig();
    const projectId = config.projectId;
    if (!projectId)
      throw new ConfigError(
        'projectId',
        'no Google Cloud project: put it in the URL (pubsub://PROJECT) or set GOOGLE_CLOUD_PROJECT',
      );
    const port = config.port === undefined ? undefined : Number(config.port);
    // On the emulator there are no credentials to ask for the universe domain: without it named, the gRPC
    // client looks for Google's default credentials and the metadata server, and warns on every start.
    const options = { ...config, port, ...(pubsub.isEmulator ? { universeDomain: DEFAULT_UNIVERSE } : {}) };
    const publisher = new v1.PublisherClient(options);
    const subscriber = new v1.SubscriberClient(options);
    return { projectId, publisher, subscriber, requests: new Requests(publisher, subscriber) };
  });
}

/** Whether `work` succeeded: false when it failed with `status` (it existed already, or was gone already). */
async function unless(status: number, work: Promise<unknown>): Promise<boolean> {
  try {
    await work;
    return true;
  } catch (error) {
    if (statusOf(error) === status) return false;
    throw error;
  }
}

/** The queue's subscription (`ordered`: of keyed messages), created with a dead-letter policy when missing. */
async function ensureSubscription(
  subscriber: v1.SubscriberClient,
  resources: QueueResources,
  settings: Settings,
  ordered: boolean,
): Promise<Subscription> {
  const { ackDeadlineSeconds, maxDeliveryAttempts } = settings;
  const name = ordered ? resources.orderedSubscription : resources.subscription;
  const topic = ordered ? resources.orderedTopic : resources.topic;
  if (settings.createIfMissing) {
    const deadLetterPolicy = { deadLetterTopic: resources.deadLetterTopic, maxDeliveryAttempts };
    const request = { name, topic, ackDeadlineSeconds, enableMessageOrdering: ordered, deadLetterPolicy };
    if (await unless(Status.ALREADY_EXISTS, subscriber.createSubscription(request, ADMIN_CALL)))
      return { name, ackDeadlineSeconds, maxDeliveryAttempts };
  }
  const [subscription] = await subscriber.getSubscription({ subscription: name }, ADMIN_CALL);
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
export function ensureQueue(
  clients: Clients,
  resources: QueueResources,
  settings: Settings,
): Promise<QueueSubscriptions> {
  const { publisher, subscriber } = clients;
  return call('queue setup', async () => {
    try {
      if (settings.createIfMissing) {
        const topics = [resources.topic, resources.deadLetterTopic];
        if (settings.messageOrdering) topics.push(resources.orderedTopic);
        await Promise.all(
          topics.map((name) => unless(Status.ALREADY_EXISTS, publisher.createTopic({ name }, ADMIN_CALL))),
        );
        const { deadLetterSubscription: name, deadLetterTopic: topic } = resources;
        await unless(
          Status.ALREADY_EXISTS,
          subscriber.createSubscription({ name, topic, ackDeadlineSeconds: 60 }, ADMIN_CALL),
        );
      }
      const [main, ordered] = await Promise.all([
        ensureSubscription(subscriber, resources, settings, false),
        settings.messageOrdering ? ensureSubscription(subscriber, resources, settings, true) : undefined,
      ]);
      return { main, ordered };
    } catch (error) {
      if (statusOf(error) !== Status.NOT_FOUND) throw error;
      throw new ConfigError(
        'createIfMissing',
        `a topic or subscription of this queue does not exist (${resources.subscription}) and createIfMissing is false`,
      );
    }
  });
}

/** Delete a queue's subscriptions and topics; missing ones are fine. */
export function deleteQueueResources(
  { publisher, subscriber }: Clients,
  resources: QueueResources,
): Promise<void> {
  return call('queue deletion', async () => {
    await Promise.all(
      [resources.subscription, resources.orderedSubscription, resources.deadLetterSubscription].map(
        (subscription) =>
          unless(Status.NOT_FOUND, subscriber.deleteSubscription({ subscription }, ADMIN_CALL)),
      ),
    );
    await Promise.all(
      [resources.topic, resources.orderedTopic, resources.deadLetterTopic].map((topic) =>
        unless(Status.NOT_FOUND, publisher.deleteTopic({ topic }, ADMIN_CALL)),
      ),
    );
  });
}

/**
 * The dead-letter subscription of a queue as a queue of its own (`deadLetterQueue.queueOf`): the
 * dead-letter topic and subscription in the place of the queue's, without an ordered pair. Its ack
 * deadline is taken as unknown (0), so each receive sets the lock it asks for.
 */
export function deadLetterHandle({ clients, resources, subscriptions }: QueueHandle): QueueHandle {
  const { deadLetterTopic: topic, deadLetterSubscription: name } = resources;
  const { maxDeliveryAttempts } = subscriptions.main;
  return {
    clients,
    resources: { ...resources, topic, subscription: name },
    subscriptions: { main: { name, ackDeadlineSeconds: 0, maxDeliveryAttempts }, ordered: undefined },
  };
}
