import { jsonCodec, type Codec } from './codec.js';
import { validateProcessOptions, validateQueueOptions } from './config.js';
import { ConsumerLoop } from './consumer.js';
import { physicalQueues, type QueueContext } from './context.js';
import type { Driver } from './driver.js';
import { ConfigError, QueueClosedError } from './errors.js';
import { TypedEmitter } from './events.js';
import { H, intHeader, userHeaders } from './headers.js';
import { sendEntries } from './producer.js';
import { driverFromUrl } from './registry.js';
import type {
  BatchEntry,
  CloseOptions,
  DeadLetterRecord,
  DeadLetters,
  Handler,
  ProcessOptions,
  QueueEvents,
  QueueOptions,
  QueueStats,
  SendOptions,
} from './types.js';

/** The sending half of a queue. */
export interface Producer<T> {
  /** Send one job; resolves with its id once the broker has accepted it. */
  send(name: string, data: T, options?: SendOptions): Promise<string>;
  /** Send many jobs (validated first: one invalid entry sends nothing); resolves with their ids in order. */
  sendBatch(entries: readonly BatchEntry<T>[]): Promise<string[]>;
}

/** The consuming half of a queue. */
export interface Consumer<T> {
  /** Start processing jobs with `handler`. One handler per queue object. */
  process<R>(handler: Handler<T, R>, options?: ProcessOptions): void;
}

const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;

/**
 * A named queue on one provider: a {@link Producer} and a {@link Consumer}, with events,
 * stats and the dead-letter API. Create it with {@link createQueue}.
 */
export class Queue<T = unknown> extends TypedEmitter<QueueEvents<T>> implements Producer<T>, Consumer<T> {
  /** Queue name. */
  readonly name: string;
  /** Dead-lettered jobs of this queue. */
  readonly deadLetters: DeadLetters<T>;
  private readonly context: QueueContext<T>;
  private readonly ownsDriver: boolean;
  private driverPromise: Promise<Driver> | undefined;
  private readonly driverSource: Driver | string;
  private consumer: ConsumerLoop<T> | undefined;
  private readonly pendingSends = new Set<Promise<unknown>>();
  private closePromise: Promise<void> | undefined;
  private closed = false;

  constructor(options: QueueOptions<T>) {
    super();
    validateQueueOptions(options);
    this.name = options.name;
    this.driverSource = options.driver ?? options.url ?? 'memory://';
    this.ownsDriver = options.ownsDriver ?? options.driver === undefined;
    this.context = {
      name: options.name,
      codec: options.codec ?? (jsonCodec as Codec<T>),
      schema: options.schema,
      defaults: options.defaults ?? {},
      strict: options.strict ?? false,
      maxDelayHop: options.maxDelayHop,
      driver: () => this.driver(),
      emit: (event, ...args) => this.emit(event, ...args),
    };
    this.deadLetters = {
      list: (opts) => this.listDeadLetters(opts?.limit ?? 100),
      redrive: (ids) => this.redrive(ids),
      purge: () => this.purgeDeadLetters(),
    };
  }

  /** The driver, connected on first use. */
  driver(): Promise<Driver> {
    if (!this.driverPromise) {
      const source = this.driverSource;
      this.driverPromise = typeof source === 'string' ? driverFromUrl(source) : Promise.resolve(source);
      // A failed connection is retried on the next call rather than cached forever.
      this.driverPromise.catch(() => {
        this.driverPromise = undefined;
      });
    }
    return this.driverPromise;
  }

  private assertOpen(): void {
    if (this.closed) throw new QueueClosedError(`Queue \`${this.name}\` is closed`);
  }

  private trackSend<R>(work: Promise<R>): Promise<R> {
    this.pendingSends.add(work);
    const done = () => this.pendingSends.delete(work);
    work.then(done, done);
    return work;
  }

  /** Send one job; resolves with its id once the broker has accepted it. */
  async send(name: string, data: T, options?: SendOptions): Promise<string> {
    this.assertOpen();
    const [id] = await this.trackSend(
      sendEntries(this.context, [{ name, data, ...(options ? { options } : {}) }], () => 'options'),
    );
    return id as string;
  }

  /** Send many jobs, all validated first; resolves with their ids in order. */
  async sendBatch(entries: readonly BatchEntry<T>[]): Promise<string[]> {
    this.assertOpen();
    if (!Array.isArray(entries)) throw new ConfigError('entries', 'expected an array');
    if (entries.length === 0) return [];
    return this.trackSend(sendEntries(this.context, entries));
  }

  /** Start processing with `handler` (one per queue object). Throws ConfigError on bad options. */
  process<R>(handler: Handler<T, R>, options?: ProcessOptions): void {
    this.assertOpen();
    if (this.closePromise) throw new QueueClosedError(`Queue \`${this.name}\` is closing`);
    if (typeof handler !== 'function') throw new ConfigError('handler', 'expected a function');
    if (this.consumer) throw new ConfigError('handler', `queue \`${this.name}\` already has a handler`);
    validateProcessOptions(options);
    this.consumer = new ConsumerLoop(this.context, handler as Handler<T>, options);
    this.consumer.start();
  }

  /** Counts summed over the queue's physical queues. `active` falls back to this process's in-flight jobs. */
  async stats(): Promise<QueueStats> {
    const driver = await this.driver();
    const totals: { waiting?: number; delayed?: number; active?: number; deadLettered?: number } = {};
    for (const queue of physicalQueues(driver, this.name, this.context.strict)) {
      const stats = await driver.stats(queue);
      for (const key of ['waiting', 'delayed', 'active', 'deadLettered'] as const) {
        const value = stats[key];
        if (value !== undefined) totals[key] = (totals[key] ?? 0) + value;
      }
    }
    if (totals.active === undefined && this.consumer) totals.active = this.consumer.active;
    return totals;
  }

  private async listDeadLetters(limit: number): Promise<DeadLetterRecord<T>[]> {
    if (!Number.isInteger(limit) || limit < 1) throw new ConfigError('limit', 'expected an integer ≥ 1');
    const driver = await this.driver();
    const out: DeadLetterRecord<T>[] = [];
    for (const queue of physicalQueues(driver, this.name, this.context.strict)) {
      if (out.length >= limit) break;
      for (const message of await driver.listDeadLetters(queue, limit - out.length)) {
        let data: T | undefined;
        try {
          data = this.context.codec.decode(message.body);
        } catch {
          data = undefined;
        }
        out.push({
          id: message.id,
          name: message.name ?? message.headers[H.name] ?? 'default',
          data,
          body: message.body,
          reason: message.reason,
          ...(message.error === undefined ? {} : { error: message.error }),
          attempts:
            message.attempts ??
            intHeader(message.headers, H.attempt, 1) + Math.max(0, message.deliveryCount - 1),
          headers: userHeaders(message.headers),
          ...(message.deadLetteredAt ? { deadLetteredAt: message.deadLetteredAt } : {}),
          raw: message.raw,
        });
      }
    }
    return out;
  }

  private async redrive(ids?: readonly string[]): Promise<number> {
    this.assertOpen();
    const driver = await this.driver();
    let moved = 0;
    for (const queue of physicalQueues(driver, this.name, this.context.strict)) {
      moved += await driver.redriveDeadLetters(queue, {
        ...(ids ? { ids } : {}),
        headers: { [H.attempt]: '1', [H.notBefore]: '0' },
      });
    }
    return moved;
  }

  private async purgeDeadLetters(): Promise<number> {
    const driver = await this.driver();
    let purged = 0;
    for (const queue of physicalQueues(driver, this.name, this.context.strict))
      purged += await driver.purgeDeadLetters(queue);
    return purged;
  }

  /**
   * Stop taking jobs, wait for in-flight ones (up to `timeout`) and for sends in progress, then
   * release the driver if this queue owns it. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (!this.closePromise) {
      this.closePromise = (async () => {
        await this.consumer?.stop(options.timeout ?? DEFAULT_CLOSE_TIMEOUT_MS);
        await Promise.allSettled([...this.pendingSends]);
        this.closed = true;
        if (this.ownsDriver && this.driverPromise) {
          const driver = await this.driverPromise.catch(() => undefined);
          await driver?.close();
        }
      })();
    }
    return this.closePromise;
  }

  /** Close on SIGTERM and SIGINT (once), then let the process exit. Returns a function that unregisters. */
  closeOnSignals(
    options: CloseOptions = {},
    signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
  ): () => void {
    const onSignal = () => {
      unregister();
      this.close(options).then(
        () => {
          process.exitCode = process.exitCode ?? 0;
        },
        (error) => this.emit('error', error instanceof Error ? error : new Error(String(error))),
      );
    };
    const unregister = () => {
      for (const signal of signals) process.off(signal, onSignal);
    };
    for (const signal of signals) process.once(signal, onSignal);
    return unregister;
  }
}

/**
 * Create a queue. The provider comes from `url` (default `memory://`) or an explicit `driver`.
 *
 * @example
 * const emails = createQueue<{ to: string }>({ name: 'emails', url: process.env.QUEUE_URL });
 * await emails.send('welcome', { to: 'ada@example.com' });
 * emails.process(async (job) => sendMail(job.data.to), { concurrency: 5 });
 */
export function createQueue<T = unknown>(options: QueueOptions<T>): Queue<T> {
  return new Queue<T>(options);
}
