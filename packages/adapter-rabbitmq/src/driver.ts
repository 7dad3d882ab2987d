import {
  BrokerUnavailableError,
  type Capabilities,
  DRIVER_API_VERSION,
  type DeadLetteredMessage,
  type Delivery,
  type Driver,
  type DriverStats,
  type NativeWorkflows,
  type OutgoingMessage,
  type QueuekitError,
  type ReceiveOptions,
  type RedriveOptions,
  settlesWithin,
} from '@queuekit/core';
import { type ClassifyContext, classified } from '@queuekit/core/driver-kit';
import type { ConfirmChannel, Message } from 'amqplib';
import {
  Admin,
  CLOSE_TIMEOUT_MS,
  ChannelSlot,
  ConnectionManager,
  closedError,
  waitQueueName,
} from './admin.js';
import { classifyError } from './errors.js';
import { type RabbitMqDriverOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { QueueConsumer, type ReceiverHost } from './receiver.js';
import { type Publication, publishOptions, RESERVED_HEADERS, toBuffer } from './wire.js';

/**
 * The RabbitMQ driver (AMQP 0-9-1, amqplib). One instance is one connection, re-established with backoff when
 * it drops. Sends go through a confirm channel and resolve once RabbitMQ confirmed them (durable queues,
 * persistent messages); receiving is a consumer per queue (see `receiver.ts`); delays use TTL wait queues that
 * dead-letter back into the work queue; dead letters are copies in `<queue>.dead-letter`; a job completed with
 * follow-ups (`ackWith`) publishes them and acks itself in one AMQP transaction.
 *
 * @example
 * const driver = await createRabbitMqDriver({ url: 'amqp://guest:guest@127.0.0.1:5672/' });
 * const queue = createQueue({ name: 'emails', driver });
 */
export class RabbitMqDriver implements Driver {
  readonly apiVersion = DRIVER_API_VERSION;
  readonly provider = 'rabbitmq';
  readonly capabilities: Capabilities;
  /** Header names RabbitMQ or this driver interprets; the core refuses them in user headers. */
  readonly reservedHeaders: readonly string[] = RESERVED_HEADERS;
  /** With `atomicFollowUps`, deliveries implement `ackWith`: follow-ups and the ack are one AMQP transaction. */
  readonly workflows: NativeWorkflows;
  /** Connection events (`connected`, `disconnected`, `connect-failed`) for logging and tests. */
  readonly connection: ConnectionManager;
  readonly #options: ResolvedOptions;
  readonly #errors: ClassifyContext;
  private readonly publisher: Publisher;
  private readonly admin: Admin;
  private readonly consumers = new Map<string, QueueConsumer>();
  private readonly closing = new AbortController();
  private readonly pendingSends = new Set<Promise<unknown>>();
  private readonly host: ReceiverHost;

  constructor(options: RabbitMqDriverOptions) {
    const resolved = resolveOptions(options);
    this.#options = resolved;
    const classify = (error: unknown, operation: string) => this.classifyError(error, operation);
    this.#errors = { provider: this.provider, classify };
    this.workflows = resolved.atomicFollowUps ? { atomicFollowUps: true } : {};
    this.connection = new ConnectionManager(resolved);
    this.publisher = new Publisher(this.connection, resolved.unavailableTimeoutMs);
    // What the parts below keep: no URL, no TLS material (they are inspectable objects).
    const { url: _, tls: __, ...settings } = resolved;
    this.admin = new Admin(this.connection, settings, (publications) => this.publish(publications));
    this.host = {
      connection: this.connection,
      options: settings,
      closed: this.closing.signal,
      ensureQueue: (queue) => this.admin.ensure(queue),
      plan: (queue, messages) => this.plan(queue, messages),
      publish: (publications, redeclare) => this.publish(publications, redeclare),
      classifyError: classify,
    };
    const quorum = resolved.queueType === 'quorum';
    this.capabilities = {
      maxDelayMs: resolved.delayBucketsMs[resolved.delayBucketsMs.length - 1]!,
      priority: quorum ? 'emulated' : 'native',
      dedup: false,
      ordering: false,
      maxBatchSize: 500,
      lockRenewal: false,
      redelivery: 'connection',
      // Classic queues only flag a redelivery; quorum queues count deliveries (x-delivery-count).
      deliveryCount: quorum ? 'exact' : 'flag',
      deadLetter: 'emulated',
      maxPayloadBytes: resolved.maxPayloadBytes,
    };
  }

  /** What `console.log(driver)` and `JSON.stringify` show: never the URL or TLS material. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `RabbitMqDriver(${this.#options.broker}, ${this.#options.queueType} queues)`;
  }

  toJSON(): { provider: string; broker: string; queueType: string } {
    return { provider: this.provider, broker: this.#options.broker, queueType: this.#options.queueType };
  }

  classifyError(error: unknown, operation: string): QueuekitError {
    return classifyError(error, operation, this.#options);
  }

  /** `work` once the driver is known open, rejecting only with queuekit errors (scrubbed). */
  private call<R>(operation: string, work: () => Promise<R>): Promise<R> {
    return classified(operation, this.#errors, () => {
      if (this.closing.signal.aborted) throw closedError();
      return work();
    });
  }

  /**
   * Connect now (otherwise the first call connects). Rejects with BrokerUnavailableError after the
   * timeout, or at once with AuthenticationError when the broker refuses the credentials or certificate.
   */
  async connect(): Promise<void> {
    await this.call('connect', () => this.connection.open(this.#options.unavailableTimeoutMs));
  }

  send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    return this.call('send', () => {
      const work = this.plan(queue, messages).then((publications) => this.publish(publications, queue));
      this.pendingSends.add(work);
      return work.finally(() => this.pendingSends.delete(work));
    });
  }

  /** What `send` publishes, queues declared: a delayed message goes to a TTL wait queue, expiring after its delay. */
  private async plan(queue: string, messages: readonly OutgoingMessage[]): Promise<Publication[]> {
    // Every message's headers are checked (`publishOptions`) before a queue is declared or a message published.
    const allOptions = messages.map(publishOptions);
    await this.admin.ensure(queue);
    const publications: Publication[] = [];
    for (const [i, message] of messages.entries()) {
      const delayMs = message.delayMs ?? 0;
      const options = allOptions[i]!;
      let target = queue;
      if (delayMs > 0) {
        const bucket = this.admin.bucketFor(delayMs);
        await this.admin.ensure(queue, bucket);
        options.expiration = String(Math.ceil(delayMs));
        target = waitQueueName(queue, bucket);
      }
      publications.push({ queue: target, content: toBuffer(message.body), options });
    }
    return publications;
  }

  /** Publish; those returned as unroutable (queue deleted meanwhile) again once `redeclare`'s queues are redeclared. */
  private async publish(publications: readonly Publication[], redeclare?: string): Promise<void> {
    let returned = await this.publisher.publish(publications);
    if (returned.length > 0 && redeclare !== undefined) {
      this.admin.forget(redeclare);
      const queues = new Set(returned.map((publication) => publication.queue));
      await this.admin.ensure(redeclare);
      for (const bucket of this.#options.delayBucketsMs)
        if (queues.has(waitQueueName(redeclare, bucket))) await this.admin.ensure(redeclare, bucket);
      returned = await this.publisher.publish(returned);
    }
    if (returned.length > 0)
      throw new Error(`RabbitMQ returned ${returned.length} message(s) as unroutable: their queue is gone`);
  }

  receive(queue: string, options: ReceiveOptions): Promise<Delivery[]> {
    return this.call('receive', () => {
      const consumer = this.consumers.get(queue) ?? new QueueConsumer(queue, this.host);
      this.consumers.set(queue, consumer);
      return consumer.receive(options);
    });
  }

  stats(queue: string): Promise<DriverStats> {
    return this.call('stats', () => this.admin.stats(queue));
  }

  listDeadLetters(queue: string, limit: number): Promise<DeadLetteredMessage[]> {
    return this.call('listDeadLetters', () => this.admin.listDeadLetters(queue, limit));
  }

  redriveDeadLetters(queue: string, options: RedriveOptions): Promise<number> {
    return this.call('redriveDeadLetters', () => this.admin.redriveDeadLetters(queue, options));
  }

  purgeDeadLetters(queue: string): Promise<number> {
    return this.call('purgeDeadLetters', () => this.admin.purgeDeadLetters(queue));
  }

  deleteQueue(queue: string): Promise<void> {
    return this.call('deleteQueue', async () => {
      const consumer = this.consumers.get(queue);
      this.consumers.delete(queue);
      await consumer?.close();
      await this.admin.deleteQueue(queue);
    });
  }

  /**
   * Wait (up to 5 s) for sends in progress, then close every channel and the connection.
   * Unsettled deliveries go back to their queues (RabbitMQ requeues them, flagged redelivered).
   */
  async close(): Promise<void> {
    if (this.closing.signal.aborted) return;
    this.closing.abort();
    await settlesWithin(Promise.allSettled([...this.pendingSends]), 5_000);
    // Channel frames are multiplexed: close each consumer channel first, so acks already written on it reach
    // the broker before the connection goes (a connection.close could overtake them). Bounded: a black-holed
    // broker never answers, and close() must still return.
    const deadline = Date.now() + CLOSE_TIMEOUT_MS;
    await settlesWithin(
      Promise.allSettled([...this.consumers.values()].map((c) => c.close())),
      CLOSE_TIMEOUT_MS,
    );
    await this.connection.close(Math.max(deadline, Date.now() + CLOSE_TIMEOUT_MS / 2));
  }
}

type Outcome = 'confirmed' | 'retry' | 'returned' | 'nacked';

/**
 * Publishes on a confirm channel and resolves once the broker confirmed every message, with those it returned
 * as unroutable (`mandatory`: none is silently lost). Messages caught by a dropped channel or connection are
 * published again once it is back (at-least-once), until `timeoutMs` passes: then BrokerUnavailableError.
 */
class Publisher {
  private readonly slot: ChannelSlot<ConfirmChannel>;
  /** Returned, not yet confirmed messages per `queue\0messageId` (RabbitMQ sends a return before its confirm). */
  private readonly returned = new Map<string, number>();
  /** Set while the channel's write buffer is full: every concurrent send waits for it. */
  private drained: Promise<void> | undefined;

  constructor(
    connection: ConnectionManager,
    private readonly timeoutMs: number,
  ) {
    this.slot = new ChannelSlot(async (timeoutMs) => {
      const channel = await connection.channel(true, timeoutMs);
      channel.on('return', ({ fields, properties }: Message) => {
        const key = `${fields.routingKey}\u0000${properties.messageId ?? ''}`;
        this.returned.set(key, (this.returned.get(key) ?? 0) + 1);
      });
      return channel;
    });
  }

  async publish(publications: readonly Publication[]): Promise<Publication[]> {
    const deadline = Date.now() + this.timeoutMs;
    const returned: Publication[] = [];
    for (let pending = publications; pending.length > 0; ) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new BrokerUnavailableError(
          `RabbitMQ did not confirm ${pending.length} message(s) within ${this.timeoutMs} ms; they may not have been stored`,
        );
      const outcomes = await this.publishOn(await this.slot.get(left), pending);
      const nacked = outcomes.filter((outcome) => outcome === 'nacked').length;
      if (nacked > 0) throw new BrokerUnavailableError(`RabbitMQ refused ${nacked} message(s) (basic.nack)`);
      returned.push(...pending.filter((_, i) => outcomes[i] === 'returned'));
      pending = pending.filter((_, i) => outcomes[i] === 'retry');
    }
    return returned;
  }

  /** Publish each message once on `channel`; resolves with the outcome of each when all are settled. */
  private async publishOn(channel: ConfirmChannel, publications: readonly Publication[]): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    let left = publications.length;
    let resolve: (outcomes: Outcome[]) => void = () => undefined;
    const all = new Promise<Outcome[]>((done) => {
      resolve = done;
    });
    const settle = (i: number, outcome: Outcome) => {
      outcomes[i] = outcome;
      if (--left === 0) resolve(outcomes);
    };
    for (let i = 0; i < publications.length; i++) {
      const { queue, content, options } = publications[i]!;
      if (this.drained) await this.drained;
      if (!this.slot.holds(channel)) {
        settle(i, 'retry');
        continue;
      }
      const confirmed = (error: unknown) => {
        // Whether this message was returned (a return comes before its confirm): claim one return of its key.
        const key = this.returned.size > 0 ? `${queue}\u0000${options.messageId ?? ''}` : '';
        const returns = this.returned.get(key) ?? 0;
        if (returns > 0) this.returned.set(key, returns - 1);
        if (returns === 1) this.returned.delete(key);
        if (error) settle(i, this.slot.holds(channel) ? 'nacked' : 'retry');
        else settle(i, returns > 0 ? 'returned' : 'confirmed');
      };
      options.mandatory = true; // a publication's options are its own: no copy per message
      let writable = true;
      try {
        writable = channel.publish('', queue, content, options, confirmed);
      } catch (error) {
        if (error instanceof RangeError) throw error;
        settle(i, 'retry');
      }
      if (!writable) await this.waitForDrain(channel);
    }
    return left === 0 ? outcomes : all;
  }

  /** Resolve when the channel can take more writes, or when it closes. */
  private waitForDrain(channel: ConfirmChannel): Promise<void> {
    this.drained ??= new Promise<void>((resolve) => {
      const done = () => {
        channel.off('drain', done).off('close', done);
        this.drained = undefined;
        resolve();
      };
      channel.on('drain', done).on('close', done);
    });
    return this.drained;
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
