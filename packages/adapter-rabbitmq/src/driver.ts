import {
  type Capabilities,
  DRIVER_API_VERSION,
  type DeadLetterInfo,
  type DeadLetteredMessage,
  type Delivery,
  type Driver,
  type DriverStats,
  LockLostError,
  type NativeWorkflows,
  type OutgoingMessage,
  QueueClosedError,
  type ReceiveOptions,
  type RedriveOptions,
  settlesWithin,
} from '@queuekit/core';
import { randomUUID } from 'node:crypto';
import type { Channel, Message } from 'amqplib';
import { ChannelSlot } from './channel-slot.js';
import { CLOSE_TIMEOUT_MS, ConnectionManager } from './connection.js';
import { DeadLetterQueue } from './dead-letters.js';
import {
  deadLetterOptions,
  publishOptions,
  RESERVED_HEADERS,
  receivedFields,
  requeueOptions,
  toBuffer,
} from './messages.js';
import { type RabbitMqDriverOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { Secrets } from './secrets.js';
import { type Publication, Publisher, UnroutableError } from './publisher.js';
import { QueueConsumer } from './queue-consumer.js';
import { bucketFor, deadLetterQueueName, Topology, waitQueueName } from './topology.js';

/**
 * The RabbitMQ driver (AMQP 0-9-1, amqplib). One instance is one connection, re-established
 * with backoff when it drops.
 *
 * - Sends go through a confirm channel and resolve once RabbitMQ confirmed them; queues are
 *   durable and messages persistent.
 * - Receiving is a consumer per queue with manual ack and a prefetch equal to what the core asks
 *   for (its concurrency); deliveries are buffered until the core pulls them.
 * - Delays use TTL wait queues, one per delay bucket, that dead-letter back into the work queue.
 * - Dead letters are copies in `<queue>.dead-letter` carrying reason, last error and attempts.
 * - A job completed with follow-ups (`ackWith`) publishes them and acks itself in one AMQP
 *   transaction on its consumer channel: both happen, or neither (and the job is redelivered).
 *
 * @example
 * const driver = await createDriver({ url: 'amqp://guest:guest@127.0.0.1:5672/' });
 * const queue = createQueue({ name: 'emails', driver });
 */
export class RabbitMqDriver implements Driver {
  readonly apiVersion = DRIVER_API_VERSION;
  readonly provider = 'rabbitmq';
  readonly capabilities: Capabilities;
  /** Header names RabbitMQ or this driver interprets; the core refuses them in user headers. */
  readonly reservedHeaders: readonly string[] = RESERVED_HEADERS;
  /** Deliveries implement `ackWith`: follow-ups and the parent's ack are one AMQP transaction. */
  readonly workflows: NativeWorkflows;
  /** Connection events (`connected`, `disconnected`, `connect-failed`) for logging and tests. */
  readonly connection: ConnectionManager;
  /** Options without the secrets (URL, TLS material), which stay in `#secrets` and the connection. */
  private readonly options: Omit<ResolvedOptions, 'url' | 'tls'>;
  readonly #secrets: Secrets;
  private readonly publisher: Publisher;
  private readonly topology: Topology;
  private readonly deadLetters: DeadLetterQueue;
  private readonly consumers = new Map<string, QueueConsumer>();
  private readonly closing = new AbortController();
  private readonly pendingSends = new Set<Promise<unknown>>();

  constructor(options: RabbitMqDriverOptions) {
    const { url, tls, ...settings } = resolveOptions(options);
    this.options = settings;
    this.#secrets = new Secrets(url, [tls?.passphrase, tls?.key, options.url]);
    this.workflows = this.options.atomicFollowUps ? { atomicFollowUps: true } : {};
    this.connection = new ConnectionManager({ url, tls, ...settings }, this.#secrets);
    this.publisher = new Publisher(this.connection);
    const admin = new ChannelSlot(this.connection, (timeoutMs) => this.connection.channel(false, timeoutMs));
    this.topology = new Topology(admin, this.options);
    this.deadLetters = new DeadLetterQueue(
      this.connection,
      this.publisher,
      this.options.unavailableTimeoutMs,
    );
    const quorum = this.options.queueType === 'quorum';
    this.capabilities = {
      maxDelayMs: this.options.delayBucketsMs[this.options.delayBucketsMs.length - 1] as number,
      priority: quorum ? 'emulated' : 'native',
      dedup: false,
      ordering: false,
      maxBatchSize: 500,
      lockRenewal: false,
      redelivery: 'connection',
      // Classic queues only flag a redelivery; quorum queues count deliveries (x-delivery-count).
      deliveryCount: quorum ? 'exact' : 'flag',
      deadLetter: 'emulated',
      maxPayloadBytes: this.options.maxPayloadBytes,
    };
  }

  /** What `console.log(driver)` shows: provider, broker and queue type, never the URL or TLS material. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `RabbitMqDriver(${this.options.broker}, ${this.options.queueType} queues)`;
  }

  /** What `JSON.stringify` writes: the same safe description. */
  toJSON(): { provider: string; broker: string; queueType: string } {
    return { provider: this.provider, broker: this.options.broker, queueType: this.options.queueType };
  }

  /**
   * Connect now (otherwise the first call connects). Rejects with BrokerUnavailableError after the
   * timeout, or at once with AuthenticationError when the broker refuses the credentials or certificate.
   */
  async connect(): Promise<void> {
    await this.guard(() => this.connection.open(this.options.unavailableTimeoutMs));
  }

  /** Run `work`; whatever it throws reaches the caller with secrets scrubbed, through every `cause`. */
  private async guard<R>(work: () => Promise<R>): Promise<R> {
    try {
      return await work();
    } catch (error) {
      throw this.#secrets.scrubError(error);
    }
  }

  private assertOpen(): void {
    if (this.closing.signal.aborted) throw new QueueClosedError('The RabbitMQ driver is closed');
  }

  send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    return this.guard(() => this.unguardedSend(queue, messages));
  }

  private async unguardedSend(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    const work = this.publish(queue, messages);
    this.pendingSends.add(work);
    try {
      await work;
    } finally {
      this.pendingSends.delete(work);
    }
  }

  private async publish(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    await this.publishRedeclaring(queue, await this.plan(queue, messages));
  }

  /**
   * What `send` publishes for `messages`, with the queue (and the wait queues of delayed ones)
   * declared: persistent, with priority, encoding and headers; delayed ones go to a TTL wait queue.
   */
  private async plan(queue: string, messages: readonly OutgoingMessage[]): Promise<Publication[]> {
    const publications: Publication[] = [];
    await this.topology.ensureQueue(queue);
    for (const message of messages) {
      const delayMs = message.delayMs ?? 0;
      const options = publishOptions(message);
      const content = toBuffer(message.body);
      if (delayMs > 0) {
        const bucket = bucketFor(this.options.delayBucketsMs, delayMs);
        await this.topology.ensureWaitQueue(queue, bucket);
        publications.push({
          queue: waitQueueName(queue, bucket),
          content,
          options: { ...options, expiration: String(Math.ceil(delayMs)) },
        });
      } else {
        publications.push({ queue, content, options });
      }
    }
    return publications;
  }

  /** Publish; if the broker returned messages as unroutable (queue deleted meanwhile), redeclare once and retry. */
  private async publishRedeclaring(queue: string, publications: readonly Publication[]): Promise<void> {
    try {
      await this.publisher.publish(publications, this.options.unavailableTimeoutMs);
    } catch (error) {
      if (!(error instanceof UnroutableError)) throw error;
      this.topology.forget(queue);
      await this.topology.ensureQueue(queue);
      for (const bucket of this.options.delayBucketsMs) {
        if (error.queues.has(waitQueueName(queue, bucket)))
          await this.topology.ensureWaitQueue(queue, bucket);
      }
      const again = publications.filter((p) => error.queues.has(p.queue));
      await this.publisher.publish(again, this.options.unavailableTimeoutMs);
    }
  }

  receive(queue: string, options: ReceiveOptions): Promise<Delivery[]> {
    return this.guard(() => this.unguardedReceive(queue, options));
  }

  private async unguardedReceive(queue: string, options: ReceiveOptions): Promise<Delivery[]> {
    this.assertOpen();
    const consumer = this.consumerFor(queue);
    // `close()` wakes every waiter itself (consumer channels close, the connection stops), so only the
    // caller's signal is watched here: no AbortSignal.any per call on this hot path.
    const stop = options.signal;
    const closed = this.closing.signal;
    const deadline = Date.now() + options.waitMs;
    const max = Math.max(0, Math.floor(options.max));
    if (max === 0) return [];
    for (;;) {
      if (options.signal.aborted) {
        await consumer.pause();
        return [];
      }
      if (closed.aborted) return [];
      if (options.waitMs <= 0) {
        const now = await consumer.getNow(max, this.options.unavailableTimeoutMs);
        return now ? now.messages.map((message) => this.delivery(queue, consumer, now.channel, message)) : [];
      }
      const taken = consumer.take(max);
      if (taken)
        return taken.messages.map((message) => this.delivery(queue, consumer, taken.channel, message));
      const model = await this.connection.open(this.options.unavailableTimeoutMs, stop);
      if (!model) continue;
      await consumer.ensure(max, this.options.unavailableTimeoutMs);
      const again = consumer.take(max);
      if (again)
        return again.messages.map((message) => this.delivery(queue, consumer, again.channel, message));
      const left = deadline - Date.now();
      if (left <= 0) return [];
      await consumer.waitForMessage(left, stop);
    }
  }

  private consumerFor(queue: string): QueueConsumer {
    let consumer = this.consumers.get(queue);
    if (!consumer) {
      consumer = new QueueConsumer(
        queue,
        this.connection,
        () => this.topology.ensureQueue(queue),
        (messages, settle) => this.giveBack(queue, messages, settle),
      );
      this.consumers.set(queue, consumer);
    }
    return consumer;
  }

  /**
   * Put messages that were pushed to us but never handed to the core back in `queue` as fresh,
   * confirmed copies (so they do not come back flagged "redelivered", which would count as an
   * attempt), then ack the originals. If that fails, requeue them (flagged).
   */
  private async giveBack(
    queue: string,
    messages: Message[],
    settle: (action: (channel: Channel) => void) => Promise<void>,
  ): Promise<void> {
    try {
      await this.publisher.publish(
        messages.map((message) => ({ queue, content: message.content, options: requeueOptions(message) })),
        this.options.unavailableTimeoutMs,
      );
      await settle((ch) => {
        for (const message of messages) ch.ack(message);
      });
    } catch {
      // Requeue them (or, if the channel closed, RabbitMQ requeues them itself).
      await settle((ch) => {
        for (const message of messages) ch.nack(message, false, true);
      }).catch(() => undefined);
    }
  }

  private delivery(queue: string, consumer: QueueConsumer, channel: Channel, message: Message): Delivery {
    const fields = receivedFields(message, () => `rabbitmq-${randomUUID()}`, this.options.queueType);
    let settled = false;
    const claim = () => {
      if (settled || !consumer.owns(channel)) {
        settled = true;
        throw new LockLostError(
          'The delivery was already settled, or its channel closed (RabbitMQ redelivers it to another consumer)',
        );
      }
      settled = true;
    };
    const lockLost = () => new LockLostError('The channel of this delivery closed; RabbitMQ redelivers it');
    // On a channel in transaction mode (see ackWith) a settle resolves once committed.
    const settle = async (action: (channel: Channel) => void) => {
      if (!(await consumer.settle(channel, action))) throw lockLost();
    };
    return {
      ...fields,
      ack: () =>
        this.guard(async () => {
          claim();
          await settle((ch) => ch.ack(message));
        }),
      ...(this.options.atomicFollowUps
        ? {
            ackWith: (followUps: Parameters<NonNullable<Delivery['ackWith']>>[0]) =>
              this.guard(async () => {
                const publications: Publication[] = [];
                for (const { queue: target, messages } of followUps) {
                  publications.push(...(await this.plan(target, messages)));
                }
                if (publications.length === 0) {
                  claim();
                  return settle((ch) => ch.ack(message));
                }
                claim();
                const transaction = await consumer.transactional(channel).catch(() => undefined);
                if (!transaction) throw lockLost();
                // Every frame of this unit is written in one synchronous block, so no commit of another
                // delivery can split it: the follow-ups and the ack are committed together or not at all.
                await settle((ch) => {
                  for (const publication of publications) {
                    ch.publish('', publication.queue, publication.content, publication.options);
                  }
                  ch.ack(message);
                });
              }),
          }
        : {}),
      deadLetter: (info: DeadLetterInfo) =>
        this.guard(async () => {
          claim();
          await this.publishRedeclaring(queue, [
            {
              queue: deadLetterQueueName(queue),
              content: message.content,
              options: deadLetterOptions(message, info, fields.deliveryCount),
            },
          ]);
          await settle((ch) => ch.ack(message));
        }),
    };
  }

  stats(queue: string): Promise<DriverStats> {
    return this.guard(() => this.unguardedStats(queue));
  }

  private async unguardedStats(queue: string): Promise<DriverStats> {
    this.assertOpen();
    await this.topology.ensureQueue(queue);
    const waiting = await this.topology.declare(queue, this.topology.workQueueArguments(queue));
    const deadLettered = await this.topology.declare(
      deadLetterQueueName(queue),
      this.options.queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {},
    );
    let delayed = 0;
    for (const bucket of this.options.delayBucketsMs) {
      delayed += await this.topology.declare(
        waitQueueName(queue, bucket),
        this.topology.waitQueueArguments(queue, bucket),
      );
    }
    return { waiting, delayed, deadLettered };
  }

  listDeadLetters(queue: string, limit: number): Promise<DeadLetteredMessage[]> {
    return this.guard(() => this.unguardedListDeadLetters(queue, limit));
  }

  private async unguardedListDeadLetters(queue: string, limit: number): Promise<DeadLetteredMessage[]> {
    this.assertOpen();
    await this.topology.ensureQueue(queue);
    return this.deadLetters.list(queue, limit);
  }

  redriveDeadLetters(queue: string, options: RedriveOptions): Promise<number> {
    return this.guard(() => this.unguardedRedriveDeadLetters(queue, options));
  }

  private async unguardedRedriveDeadLetters(queue: string, options: RedriveOptions): Promise<number> {
    this.assertOpen();
    await this.topology.ensureQueue(queue);
    return this.deadLetters.redrive(queue, options);
  }

  purgeDeadLetters(queue: string): Promise<number> {
    return this.guard(() => this.unguardedPurgeDeadLetters(queue));
  }

  private async unguardedPurgeDeadLetters(queue: string): Promise<number> {
    this.assertOpen();
    await this.topology.ensureQueue(queue);
    return this.deadLetters.purge(queue);
  }

  /** Delete the work queue, its dead-letter queue and its wait queues. */
  deleteQueue(queue: string): Promise<void> {
    return this.guard(() => this.unguardedDeleteQueue(queue));
  }

  private async unguardedDeleteQueue(queue: string): Promise<void> {
    this.assertOpen();
    const consumer = this.consumers.get(queue);
    this.consumers.delete(queue);
    await consumer?.close();
    this.topology.forget(queue);
    const channel = await this.connection.channel(false, this.options.unavailableTimeoutMs);
    try {
      for (const name of this.topology.allNames(queue)) await channel.deleteQueue(name);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /**
   * Wait (up to 5 s) for sends in progress, then close every channel and the connection.
   * Unsettled deliveries go back to their queues (RabbitMQ requeues them, flagged redelivered).
   */
  async close(): Promise<void> {
    if (this.closing.signal.aborted) return;
    this.closing.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.pendingSends]),
      new Promise((resolve) => {
        timer = setTimeout(resolve, 5_000);
      }),
    ]);
    clearTimeout(timer);
    // Channel frames are multiplexed: close each consumer channel first, so acks already written
    // on it reach the broker before the connection goes (a connection.close could overtake them).
    // Bounded: a black-holed broker never answers, and close() must still return.
    const deadline = Date.now() + CLOSE_TIMEOUT_MS;
    await settlesWithin(
      Promise.allSettled([...this.consumers.values()].map((consumer) => consumer.close())),
      CLOSE_TIMEOUT_MS,
    );
    await this.connection.close(Math.max(deadline, Date.now() + CLOSE_TIMEOUT_MS / 2));
  }
}

/** Create a RabbitMQ driver and open its connection (rejects with BrokerUnavailableError if unreachable). */
export async function createRabbitMqDriver(options: RabbitMqDriverOptions): Promise<RabbitMqDriver> {
  const driver = new RabbitMqDriver(options);
  try {
    await driver.connect();
  } catch (error) {
    await driver.close();
    throw error;
  }
  return driver;
}
