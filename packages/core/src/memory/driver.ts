import {
  type Capabilities,
  DRIVER_API_VERSION,
  type DeadLetterInfo,
  type DeadLetteredMessage,
  type DeadLetterQueueHook,
  type Delivery,
  type Driver,
  type DriverStats,
  type OutgoingMessage,
  type ReceivedMessage,
  type ReceiveOptions,
  type RedriveOptions,
} from '../driver.js';
import { type DeadLetterQueueOps, deadLetterQueueOps } from '../driver-kit/dead-letter-queue.js';
import { createDelivery, type DeliveryOperations, type FollowUps } from '../driver-kit/delivery.js';
import { ConfigError, LockLostError, QueueClosedError, UnsupportedFeatureError } from '../errors.js';
import { lifetimeController, linkSignals } from '../timers.js';
import type { MemoryBroker, StoredMessage } from './broker.js';
import { namedBroker } from './named.js';

/** Options of the in-memory driver. */
export interface MemoryDriverOptions {
  /** Share a broker between drivers (simulated connections). Default: `memory://NAME`'s broker. */
  readonly broker?: MemoryBroker;
  /** Reported payload limit. Default 1 MiB. */
  readonly maxPayloadBytes?: number;
  /** Used when `broker` is not given: `memory://NAME` (default `memory://default`). */
  readonly url?: string;
  /**
   * Declare fewer capabilities than the broker has, to exercise the core's emulations and typed
   * errors (priority bands, delay hops, no dedup...) the way a cloud driver would. Tests only.
   */
  readonly limitCapabilities?: Partial<
    Pick<
      Capabilities,
      'maxDelayMs' | 'priority' | 'dedup' | 'ordering' | 'maxBatchSize' | 'lockRenewal' | 'deliveryCount'
    >
  >;
  /**
   * Keep dead letters in an ordinary queue, `${queue}-dlq`, the way SQS does, through the driver kit's
   * `deadLetterQueueOps` (declares `deadLetterQueue` and `capabilities.deadLetter: 'emulated'`). Tests only.
   */
  readonly deadLetterQueue?: boolean;
}

/**
 * The embedded in-memory driver: locks that expire, redelivery, delays, native priority,
 * dedup, ordering keys and a dead-letter list. Nothing survives the process.
 */
export class MemoryDriver implements Driver {
  readonly apiVersion = DRIVER_API_VERSION;
  readonly provider = 'memory';
  readonly capabilities: Capabilities;
  readonly workflows = { atomicFollowUps: true } as const;
  readonly deadLetterQueue?: DeadLetterQueueHook;
  private readonly dlq: DeadLetterQueueOps | undefined;
  private readonly broker: MemoryBroker;
  private readonly closing = lifetimeController();

  constructor(options: MemoryDriverOptions = {}) {
    this.broker = options.broker ?? namedBroker(brokerName(options.url));
    this.capabilities = {
      maxDelayMs: Number.POSITIVE_INFINITY,
      priority: 'native',
      dedup: true,
      ordering: true,
      maxBatchSize: 1000,
      lockRenewal: true,
      redelivery: 'timeout',
      deliveryCount: 'exact',
      deadLetter: 'native',
      maxPayloadBytes: options.maxPayloadBytes ?? 1024 * 1024,
      ...options.limitCapabilities,
      ...(options.deadLetterQueue ? { deadLetter: 'emulated' as const } : {}),
    };
    if (options.deadLetterQueue) {
      this.deadLetterQueue = { queueOf: (queue) => `${queue}-dlq` };
      this.dlq = deadLetterQueueOps(this, this.deadLetterQueue);
    }
  }

  private open(): void {
    if (this.closing.signal.aborted) throw new QueueClosedError('The memory driver is closed');
  }

  async send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    this.open();
    // What the core never sends (it splits batches, hops delays, emulates priority): typed all the same.
    if (messages.length > this.capabilities.maxBatchSize)
      throw new ConfigError(
        'messages',
        `the memory driver takes at most ${this.capabilities.maxBatchSize} per send`,
      );
    for (const message of messages) {
      if ((message.delayMs ?? 0) > this.capabilities.maxDelayMs)
        throw new ConfigError(
          'delayMs',
          `${message.delayMs} exceeds the declared maximum ${this.capabilities.maxDelayMs}`,
        );
      if (message.priority !== undefined && this.capabilities.priority !== 'native')
        throw new UnsupportedFeatureError(
          'priority on send',
          this.provider,
          'the driver declared no native priority',
        );
    }
    // A copy takes the place of the delivery it copies (one message, one id), as BullMQ's adapter does.
    // The broker reads a message's fields and keeps none of its objects: no copy without `copyOf`.
    for (const message of messages) {
      const { copyOf } = message;
      if (copyOf) this.broker.replace(queue, message, copyOf);
      else this.broker.enqueue(queue, message);
    }
  }

  async receive(queue: string, options: ReceiveOptions): Promise<Delivery[]> {
    this.open();
    const take = () =>
      this.broker
        .take(queue, options.max, options.lockMs)
        .map(({ key, message, token }) => this.delivery(queue, key, message, token));
    // Most receives of a busy queue find messages at once: no signals to link, no wait.
    const first = take();
    if (first.length > 0 || options.waitMs <= 0 || options.signal?.aborted) return first;
    const deadline = Date.now() + options.waitMs;
    const { signal, dispose } = linkSignals(options.signal, this.closing.signal);
    try {
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0 || signal.aborted) return [];
        await this.broker.waitFor(queue, left, signal);
        const taken = take();
        if (taken.length > 0) return taken;
      }
    } finally {
      dispose();
    }
  }

  private delivery(queue: string, key: string, message: StoredMessage, token: string): Delivery {
    // `flag` pretends to be a broker that only says "delivered before" (RabbitMQ classic queues).
    const deliveryCount =
      this.capabilities.deliveryCount === 'flag' ? Math.min(2, message.deliveryCount) : message.deliveryCount;
    const seen = received(message);
    seen.deliveryCount = deliveryCount;
    if (message.orderingKey !== undefined) seen.orderingKey = message.orderingKey;
    return createDelivery({
      message: seen,
      lockedUntil: message.lockedUntil,
      deliveryToken: token,
      provider: this.provider,
      isClosed: this.isClosed,
      operations: this.capabilities.lockRenewal
        ? new RenewableOps(this.broker, this.dlq, queue, key, token, message)
        : new MemoryOps(this.broker, this.dlq, queue, key, token, message),
    });
  }

  private readonly isClosed = () => this.closing.signal.aborted;

  async stats(queue: string): Promise<DriverStats> {
    const counts = this.broker.counts(queue);
    if (!this.deadLetterQueue) return counts;
    const dlq = this.broker.counts(this.deadLetterQueue.queueOf(queue));
    return { ...counts, deadLettered: dlq.waiting + dlq.delayed + dlq.active };
  }

  async listDeadLetters(queue: string, limit: number): Promise<DeadLetteredMessage[]> {
    if (this.dlq) return this.dlq.list(queue, limit);
    return this.broker
      .listDeadLetters(queue, limit)
      .map(({ message, reason, error, attempts, deadLetteredAt }) => ({
        ...received(message),
        reason,
        ...(error === undefined ? {} : { error }),
        ...(attempts === undefined ? {} : { attempts }),
        deadLetteredAt,
      }));
  }

  async redriveDeadLetters(queue: string, options: RedriveOptions): Promise<number> {
    if (this.dlq) return this.dlq.redrive(queue, options);
    return this.broker.redrive(queue, options.ids, options.headers);
  }

  async purgeDeadLetters(queue: string): Promise<number> {
    if (this.dlq) return this.dlq.purge(queue);
    return this.broker.purgeDeadLetters(queue);
  }

  async peek(queue: string, limit: number): Promise<ReceivedMessage[]> {
    return this.broker.peek(queue, limit).map(received);
  }

  async deleteQueue(queue: string): Promise<void> {
    this.broker.deleteQueue(queue);
  }

  /** Drops this "connection". Locked messages stay locked until they expire, as after a crash. */
  async close(): Promise<void> {
    this.closing.abort();
  }
}

/** The broker operations of one memory delivery (see `DeliveryOperations`): one object, no closures. */
class MemoryOps implements DeliveryOperations {
  constructor(
    protected readonly broker: MemoryBroker,
    private readonly dlq: DeadLetterQueueOps | undefined,
    protected readonly queue: string,
    protected readonly key: string,
    protected readonly token: string,
    protected readonly message: StoredMessage,
  ) {}

  async ack(): Promise<void> {
    held(this.broker.ack(this.queue, this.key, this.token));
  }

  /** One synchronous step: the follow-ups exist if and only if the parent is acknowledged. */
  async ackWith(followUps: FollowUps): Promise<void> {
    const { broker, queue, key, token } = this;
    held(broker.extend(queue, key, token, 1000));
    for (const { queue: target, messages } of followUps) for (const m of messages) broker.enqueue(target, m);
    held(broker.ack(queue, key, token));
  }

  async deadLetter(info: DeadLetterInfo): Promise<void> {
    const { broker, queue, key, token, dlq } = this;
    if (!dlq) return held(broker.deadLetter(queue, key, token, info));
    held(broker.extend(queue, key, token, 1000)); // still ours while the copy is sent
    await dlq.send(queue, received(this.message), info);
    held(broker.ack(queue, key, token));
  }

  async release(delayMs: number): Promise<void> {
    held(this.broker.release(this.queue, this.key, this.token, delayMs));
  }

  async defer(ms: number): Promise<void> {
    held(this.broker.release(this.queue, this.key, this.token, ms, { countDelivery: false }));
  }
}

/** {@link MemoryOps} of a driver that declares lock renewal. */
class RenewableOps extends MemoryOps {
  async extendLock(ms: number): Promise<number> {
    held(this.broker.extend(this.queue, this.key, this.token, ms));
    return this.message.lockedUntil;
  }
}

function held(ok: boolean): void {
  if (!ok) throw new LockLostError();
}

/** A stored message as the driver contract shows it (headers copied, the stored object as `raw`). */
function received(message: StoredMessage): ReceivedMessage & { deliveryCount: number; orderingKey?: string } {
  return {
    id: message.id,
    name: message.name,
    body: message.body,
    headers: { ...message.headers },
    deliveryCount: message.deliveryCount,
    enqueuedAt: message.enqueuedAt,
    priority: message.priority,
    raw: message,
  };
}

function brokerName(url: string | undefined): string {
  if (!url) return 'default';
  const rest = url.replace(/^memory:\/\//i, '').replace(/[/?#].*$/, '');
  return rest || 'default';
}

/** Create an in-memory driver (`memory://NAME` shares the broker named NAME in this process). */
export function createMemoryDriver(options: MemoryDriverOptions = {}): MemoryDriver {
  return new MemoryDriver(options);
}
