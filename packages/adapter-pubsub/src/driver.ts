import { PubSub } from '@google-cloud/pubsub';
import {
  type Capabilities,
  DRIVER_API_VERSION,
  type DeadLetteredMessage,
  type Delivery,
  type Driver,
  type DriverFactoryOptions,
  type DriverStats,
  lifetimeController,
  type OutgoingMessage,
  PartialSendError,
  QueueClosedError,
  type QueuekitError,
  type ReceiveOptions,
  type RedriveOptions,
  settlesWithin,
} from '@queuekit/core';
import { type DeadLetterQueueOps, deadLetterQueueOps } from '@queuekit/core/driver-kit';
import * as admin from './admin.js';
import { classifyError, isNotFound } from './errors.js';
import { optionsFromUrl, type PubSubDriverOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { QueueReceiver } from './receiver.js';
import {
  MAX_MESSAGE_BYTES,
  type PubsubMessage,
  type QueueResources,
  queueResources,
  RESERVED_HEADERS,
  toPubsubMessage,
} from './wire.js';

interface QueueState extends admin.QueueHandle {
  readonly receiver: QueueReceiver;
}

/**
 * What `deadLetterQueue.queueOf` appends to a queue name: the dead letters are read and redriven as a queue of
 * that name. `#` is not allowed in queue names, so no real queue is named so.
 */
const DEAD_LETTERS = '#dead-letters';

/** How long `close()` waits for pending publishes and acks, then for the clients to close. */
const CLOSE_FLUSH_MS = 2000;

/**
 * Google Cloud Pub/Sub driver. One queue is a topic and a subscription (plus an ordered pair for keyed
 * messages), with a native dead-letter policy to a `.dlq` topic whose own subscription serves list,
 * redrive and purge. How each part of the contract maps onto Pub/Sub: the package README.
 * Credentials come from Google's default chain; `PUBSUB_EMULATOR_HOST` selects an emulator.
 */
export class PubSubDriver implements Driver {
  readonly apiVersion = DRIVER_API_VERSION;
  readonly provider = 'pubsub';
  readonly capabilities: Capabilities;
  /** Attribute names the driver interprets itself (`qkd-*`, the dead-letter policy's): refused in user headers. */
  readonly reservedHeaders: readonly string[] = RESERVED_HEADERS;
  /** The dead-letter subscription, read as a queue: list, redrive and purge are the kit's. */
  readonly deadLetterQueue = { queueOf: (queue: string) => `${queue}${DEAD_LETTERS}` };
  // Private fields (not TypeScript `private`): util.inspect and JSON.stringify never see the options
  // and clients, which hold `clientConfig.credentials`.
  readonly #options: ResolvedOptions;
  readonly #pubsub: PubSub;
  #clients: Promise<admin.Clients> | undefined;
  readonly #queues = new Map<string, Promise<QueueState>>();
  readonly #closing = lifetimeController();
  readonly #background = new Set<Promise<unknown>>();
  #closed: Promise<void> | undefined;
  readonly #deadLetters: DeadLetterQueueOps;

  constructor(options: PubSubDriverOptions = {}) {
    this.#options = resolveOptions(options);
    const { clientConfig, projectId } = this.#options;
    this.#pubsub = new PubSub({ ...clientConfig, ...(projectId ? { projectId } : {}) });
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
    this.#deadLetters = deadLetterQueueOps(this, this.deadLetterQueue);
  }

  /** What the driver shows of itself: provider and names, never the client configuration or credentials. */
  toJSON(): Record<string, unknown> {
    const { projectId, topic, subscription } = this.#options;
    const closed = this.#closing.signal.aborted;
    return { provider: this.provider, ...(projectId ? { projectId } : {}), topic, subscription, closed };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `PubSubDriver ${JSON.stringify(this.toJSON())}`;
  }

  /** The queuekit error a client failure stands for (see `errors.ts`). */
  classifyError(error: unknown, operation: string): QueuekitError | undefined {
    return classifyError(error, operation);
  }

  private assertOpen(): void {
    if (this.#closing.signal.aborted) throw new QueueClosedError('The pubsub driver is closed');
  }

  #connect(): Promise<admin.Clients> {
    this.#clients ??= admin.connect(this.#pubsub).catch((error: unknown) => {
      this.#clients = undefined;
      throw error;
    });
    return this.#clients;
  }

  #resources(clients: admin.Clients, queue: string): QueueResources {
    return queueResources(clients.projectId, this.#options.topic, this.#options.subscription, queue);
  }

  #queue(name: string): Promise<QueueState> {
    let state = this.#queues.get(name);
    if (!state) {
      state = (async () => {
        const clients = await this.#connect();
        const deadLetters = name.endsWith(DEAD_LETTERS);
        const resources = this.#resources(clients, deadLetters ? name.slice(0, -DEAD_LETTERS.length) : name);
        const subscriptions = await admin.ensureQueue(clients, resources, this.#options);
        const queue = { clients, resources, subscriptions };
        const handle = deadLetters ? admin.deadLetterHandle(queue) : queue;
        const receiver = new QueueReceiver({
          ...handle,
          deadLetters,
          pollIntervalMs: this.#options.pollIntervalMs,
          closed: this.#closing.signal,
          track: (work) => {
            const tracked = work.finally(() => this.#background.delete(tracked));
            this.#background.add(tracked);
          },
        });
        return { ...handle, receiver };
      })();
      state.catch(() => this.#queues.delete(name));
      this.#queues.set(name, state);
    }
    return state;
  }

  /** Publish with publisher batching; every limit is checked before the network call. */
  async send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    const now = Date.now();
    const converted = messages.map((message) => toPubsubMessage(message, now));
    if (converted.length === 0) return;
    const state = this.#queue(queue);
    const { clients, resources, subscriptions } = await state;
    // Keyed messages go through the ordered topic; each index is a position in `messages`.
    const keyed: number[] = [];
    const plain: number[] = [];
    for (const [i, message] of converted.entries())
      (message.orderingKey && subscriptions.ordered ? keyed : plain).push(i);
    const pick = (indexes: number[]) => indexes.map((i) => converted[i] as PubsubMessage);
    const outcomes = await Promise.all([
      clients.requests.publish(resources.topic, keyed.length === 0 ? converted : pick(plain)),
      clients.requests.publish(resources.orderedTopic, pick(keyed)),
    ]);
    const failed = new Set([
      ...outcomes[0].failed.map((i) => plain[i]),
      ...outcomes[1].failed.map((i) => keyed[i]),
    ]);
    if (failed.size === 0) return;
    const cause = outcomes[0].error ?? outcomes[1].error;
    this.#forgetIfMissing(queue, state, cause);
    const sent = messages.filter((_, i) => !failed.has(i)).map((message) => message.id);
    if (sent.length === 0) throw cause;
    // Say which jobs Pub/Sub took, so that only the others are sent again.
    const unsent = messages.filter((_, i) => failed.has(i)).map((message) => message.id);
    throw new PartialSendError(sent, unsent, { cause });
  }

  /** Pull up to `max` messages under a lock of `lockMs` (whole seconds, 1-600). */
  async receive(queue: string, options: ReceiveOptions): Promise<Delivery[]> {
    this.assertOpen();
    const state = this.#queue(queue);
    try {
      return await (await state).receiver.receive(options);
    } catch (error) {
      this.#forgetIfMissing(queue, state, error);
      throw error;
    }
  }

  /**
   * Forget a queue's setup when Pub/Sub says its topic or subscription is gone (deleted by hand, an emulator
   * restarted): the next call sets it up again (created when `createIfMissing`), instead of failing for good.
   */
  #forgetIfMissing(queue: string, state: Promise<QueueState>, error: unknown): void {
    if (isNotFound(error) && this.#queues.get(queue) === state) this.#queues.delete(queue);
  }

  /** Pub/Sub has no per-subscription counts outside Cloud Monitoring: nothing is reported. */
  async stats(queue: string): Promise<DriverStats> {
    this.assertOpen();
    await this.#queue(queue);
    return {};
  }

  async listDeadLetters(queue: string, limit: number): Promise<DeadLetteredMessage[]> {
    this.assertOpen();
    return this.#deadLetters.list(queue, limit);
  }

  async redriveDeadLetters(queue: string, options: RedriveOptions): Promise<number> {
    this.assertOpen();
    return this.#deadLetters.redrive(queue, options);
  }

  async purgeDeadLetters(queue: string): Promise<number> {
    this.assertOpen();
    return this.#deadLetters.purge(queue);
  }

  /** Delete the queue's topic, subscription and dead-letter pair (tests and tooling). */
  async deleteQueue(queue: string): Promise<void> {
    this.assertOpen();
    const clients = await this.#connect();
    const resources = this.#resources(clients, queue);
    this.#queues.delete(queue);
    await admin.deleteQueueResources(clients, resources);
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
      await settlesWithin(
        (async () => {
          await Promise.allSettled([...this.#background]);
          await clients?.requests.drain();
        })(),
        CLOSE_FLUSH_MS,
      );
      const closing = [
        this.#pubsub.close(),
        ...(clients ? [clients.publisher.close(), clients.subscriber.close()] : []),
      ];
      await settlesWithin(Promise.allSettled(closing), CLOSE_FLUSH_MS);
    })();
    return this.#closed;
  }
}

/** Create a Pub/Sub driver from `pubsub://PROJECT[/TOPIC][?subscription=SUB&...]` (used by `driverFromUrl`). */
export function createDriver(options: DriverFactoryOptions): PubSubDriver {
  return new PubSubDriver(optionsFromUrl(options.url));
}

/** Create a Pub/Sub driver from options. */
export function createPubSubDriver(options: PubSubDriverOptions = {}): PubSubDriver {
  return new PubSubDriver(options);
}
