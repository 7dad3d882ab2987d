import { PubSub, v1 } from '@google-cloud/pubsub';
import {
  type Capabilities,
  ConfigError,
  DRIVER_API_VERSION,
  type DeadLetteredMessage,
  type Delivery,
  type Driver,
  type DriverFactoryOptions,
  type DriverStats,
  type OutgoingMessage,
  PartialSendError,
  QueueClosedError,
  type ReceiveOptions,
  type RedriveOptions,
  settlesWithin,
} from '@queuekit/core';
import { deleteQueueResources, ensureQueue, type QueueSubscriptions } from './admin.js';
import { MAX_MESSAGE_BYTES, RESERVED_HEADERS, toPubsubMessage } from './attributes.js';
import * as deadLetters from './dead-letters.js';
import { queueResources, type QueueResources } from './names.js';
import { optionsFromUrl, type PubSubDriverOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { QueueReceiver } from './receiver.js';
import { mapError, PublishBatcher, SettleBatcher } from './rpc.js';

interface Clients {
  readonly projectId: string;
  readonly publisher: v1.PublisherClient;
  readonly subscriber: v1.SubscriberClient;
  readonly publish: PublishBatcher;
  readonly settle: SettleBatcher;
}

interface QueueState {
  readonly resources: QueueResources;
  readonly subscriptions: QueueSubscriptions;
  readonly receiver: QueueReceiver;
}

/**
 * Google Cloud Pub/Sub driver. One queue is one topic plus one subscription (created when
 * missing), with a native dead-letter policy to a `.dlq` topic that has its own subscription for
 * list, redrive and purge.
 *
 * - Receive: synchronous `Pull` (`returnImmediately`) of at most the core's free slots, so
 *   prefetch never exceeds `concurrency`; a waiting receive re-pulls every `pollIntervalMs`.
 * - Lock: the ack deadline, set per delivery with `ModifyAckDeadline` and extended by the core's
 *   heartbeat (`extendLock`); no client-side lease manager.
 * - Delivery count: `deliveryAttempt` (reported because every subscription has a dead-letter policy).
 * - Retries: `release()` nacks with a modified ack deadline (whole seconds, ≤ 600 s).
 * - Delay: not native; a `qkd-deliver-at` attribute, and the driver hides an early message with
 *   its ack deadline until its time, then republishes it once so the delivery count stays honest.
 *
 * Credentials come from Google's default chain; `PUBSUB_EMULATOR_HOST` selects an emulator.
 */
export class PubSubDriver implements Driver {
  readonly apiVersion = DRIVER_API_VERSION;
  readonly provider = 'pubsub';
  readonly capabilities: Capabilities;
  /** Attribute names the driver interprets itself (`qkd-*`, the dead-letter policy's): refused in user headers. */
  readonly reservedHeaders: readonly string[] = RESERVED_HEADERS;
  // Private fields (not TypeScript `private`): util.inspect and JSON.stringify never see the options
  // and clients, which hold `clientConfig.credentials`.
  readonly #options: ResolvedOptions;
  readonly #pubsub: PubSub;
  #clients: Promise<Clients> | undefined;
  readonly #queues = new Map<string, Promise<QueueState>>();
  readonly #closing = new AbortController();
  readonly #background = new Set<Promise<unknown>>();
  #closed: Promise<void> | undefined;

  constructor(options: PubSubDriverOptions = {}) {
    this.#options = resolveOptions(options);
    this.#pubsub = new PubSub({
      ...this.#options.clientConfig,
      ...(this.#options.projectId ? { projectId: this.#options.projectId } : {}),
    });
    this.capabilities = {
      maxDelayMs: this.#options.maxDelayMs,
      priority: 'emulated',
      dedup: false,
      ordering: this.#options.messageOrdering,
      maxBatchSize: 1000,
      lockRenewal: true,
      redelivery: 'timeout',
      // `deliveryAttempt`: every subscription the driver uses has a dead-letter policy (it refuses others).
      deliveryCount: 'exact',
      deadLetter: 'native',
      maxPayloadBytes: MAX_MESSAGE_BYTES,
    };
  }

  /** What the driver shows of itself: provider and names, never the client configuration or credentials. */
  toJSON(): Record<string, unknown> {
    return {
      provider: this.provider,
      ...(this.#options.projectId === undefined ? {} : { projectId: this.#options.projectId }),
      topic: this.#options.topic,
      subscription: this.#options.subscription,
      closed: this.#closing.signal.aborted,
    };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `PubSubDriver ${JSON.stringify(this.toJSON())}`;
  }

  private assertOpen(): void {
    if (this.#closing.signal.aborted) throw new QueueClosedError('The pubsub driver is closed');
  }

  private connect(): Promise<Clients> {
    this.#clients ??= (async () => {
      const config = await this.#pubsub.getClientConfig();
      const projectId = config.projectId;
      if (!projectId)
        throw new ConfigError(
          'projectId',
          'no Google Cloud project: put it in the URL (pubsub://PROJECT) or set GOOGLE_CLOUD_PROJECT',
        );
      const clientOptions = { ...config, port: config.port === undefined ? undefined : Number(config.port) };
      const publisher = new v1.PublisherClient(clientOptions);
      const subscriber = new v1.SubscriberClient(clientOptions);
      return {
        projectId,
        publisher,
        subscriber,
        publish: new PublishBatcher(publisher),
        settle: new SettleBatcher(subscriber),
      };
    })().catch((error: unknown) => {
      this.#clients = undefined;
      throw mapError(error, 'connect');
    });
    return this.#clients;
  }

  private queue(name: string): Promise<QueueState> {
    let state = this.#queues.get(name);
    if (!state) {
      state = (async () => {
        const clients = await this.connect();
        const resources = queueResources(
          clients.projectId,
          this.#options.topic,
          this.#options.subscription,
          name,
        );
        const subscriptions = await ensureQueue(
          clients.publisher,
          clients.subscriber,
          resources,
          this.#options,
        );
        const receiver = new QueueReceiver({
          resources,
          subscriptions,
          subscriber: clients.subscriber,
          settle: clients.settle,
          publisher: clients.publish,
          pollIntervalMs: this.#options.pollIntervalMs,
          closed: this.#closing.signal,
          track: (work) => this.track(work),
        });
        return { resources, subscriptions, receiver };
      })();
      state.catch(() => this.#queues.delete(name));
      this.#queues.set(name, state);
    }
    return state;
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.finally(() => this.#background.delete(tracked));
    this.#background.add(tracked);
  }

  /** Publish with publisher batching; every limit is checked before the network call. */
  async send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    const now = Date.now();
    const converted = messages.map((message) => toPubsubMessage(message, now));
    if (converted.length === 0) return;
    const [clients, state] = await Promise.all([this.connect(), this.queue(queue)]);
    const ordered = state.subscriptions.ordered !== undefined;
    const isKeyed = (message: (typeof converted)[number]) => Boolean(message.orderingKey && ordered);
    const plain = clients.publish.publishEach(
      state.resources.topic,
      converted.filter((message) => !isKeyed(message)),
    );
    const keyed = clients.publish.publishEach(state.resources.orderedTopic, converted.filter(isKeyed));
    // Back in entry order: each message's outcome (a send can span two topics and several requests).
    const outcomes = await Promise.allSettled(
      converted.map((message) => (isKeyed(message) ? keyed : plain).shift() as Promise<void>),
    );
    const failure = outcomes.find((outcome) => outcome.status === 'rejected');
    if (failure === undefined) return;
    const ids = (status: 'fulfilled' | 'rejected') =>
      outcomes.flatMap((outcome, i) => (outcome.status === status ? [messages[i]?.id ?? ''] : []));
    const sent = ids('fulfilled');
    if (sent.length === 0) throw failure.reason;
    // Say which jobs Pub/Sub took, so that only the others are sent again.
    throw new PartialSendError(sent, ids('rejected'), { cause: failure.reason });
  }

  /** Pull up to `max` messages under a lock of `lockMs` (whole seconds, 1-600). */
  async receive(queue: string, options: ReceiveOptions): Promise<Delivery[]> {
    this.assertOpen();
    const state = await this.queue(queue);
    return state.receiver.receive(options);
  }

  /** Pub/Sub has no per-subscription counts outside Cloud Monitoring: nothing is reported. */
  async stats(queue: string): Promise<DriverStats> {
    this.assertOpen();
    await this.queue(queue);
    return {};
  }

  async listDeadLetters(queue: string, limit: number): Promise<DeadLetteredMessage[]> {
    this.assertOpen();
    const [clients, state] = await Promise.all([this.connect(), this.queue(queue)]);
    return deadLetters.listDeadLetters(
      this.deadLetterContext(clients),
      state.resources,
      state.subscriptions.main,
      limit,
    );
  }

  async redriveDeadLetters(queue: string, options: RedriveOptions): Promise<number> {
    this.assertOpen();
    const [clients, state] = await Promise.all([this.connect(), this.queue(queue)]);
    return deadLetters.redriveDeadLetters(
      this.deadLetterContext(clients),
      state.resources,
      state.subscriptions.ordered !== undefined,
      options,
    );
  }

  async purgeDeadLetters(queue: string): Promise<number> {
    this.assertOpen();
    const [clients, state] = await Promise.all([this.connect(), this.queue(queue)]);
    return deadLetters.purgeDeadLetters(this.deadLetterContext(clients), state.resources);
  }

  private deadLetterContext(clients: Clients): deadLetters.DeadLetterContext {
    return { subscriber: clients.subscriber, settle: clients.settle, publisher: clients.publish };
  }

  /** Delete the queue's topic, subscription and dead-letter pair (tests and tooling). */
  async deleteQueue(queue: string): Promise<void> {
    this.assertOpen();
    const clients = await this.connect();
    const resources = queueResources(
      clients.projectId,
      this.#options.topic,
      this.#options.subscription,
      queue,
    );
    this.#queues.delete(queue);
    await deleteQueueResources(clients.publisher, clients.subscriber, resources);
  }

  /**
   * Flush pending publishes and acks, then close the gRPC clients. Unsettled messages expire on their own.
   * Bounded: requests the emulator or Pub/Sub does not answer (an outage) are given up on after
   * {@link CLOSE_FLUSH_MS}; each ends by its own deadline and its caller sees it fail.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort();
      const clients = await settlesWithin(this.#clients, CLOSE_FLUSH_MS).then((settled) =>
        settled ? this.#clients?.catch(() => undefined) : undefined,
      );
      const flushed = settlesWithin(
        (async () => {
          await Promise.allSettled([...this.#background]);
          await clients?.publish.drain();
          await clients?.settle.drain();
        })(),
        CLOSE_FLUSH_MS,
      );
      await flushed;
      const closing = clients
        ? [clients.publisher.close(), clients.subscriber.close(), this.#pubsub.close()]
        : [this.#pubsub.close()];
      await settlesWithin(Promise.allSettled(closing), CLOSE_FLUSH_MS);
    })();
    return this.#closed;
  }
}

/** How long `close()` waits for pending publishes and acks, then for the clients to close. */
const CLOSE_FLUSH_MS = 2000;

/** Create a Pub/Sub driver from `pubsub://PROJECT[/TOPIC][?subscription=SUB&...]` (used by `driverFromUrl`). */
export function createDriver(options: DriverFactoryOptions): PubSubDriver {
  return new PubSubDriver(optionsFromUrl(options.url));
}

/** Create a Pub/Sub driver from options. */
export function createPubSubDriver(options: PubSubDriverOptions = {}): PubSubDriver {
  return new PubSubDriver(options);
}
