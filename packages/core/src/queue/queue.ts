import { validateProcessOptions, validateQueueOptions } from '../config.js';
import { ConsumerLoop } from '../consumer/consumer.js';
import type { QueueContext } from '../context.js';
import type { Driver } from '../driver.js';
import { ConfigError, QueueClosedError } from '../errors.js';
import { TypedEmitter } from '../observability/events.js';
import type { QueueMetrics } from '../observability/metrics.js';
import { report } from '../observability/report.js';
import { SendCoalescer } from '../producer/coalescer.js';
import { sendEntries } from '../producer/send.js';
import { PriorityBands } from '../semantics/priority.js';
import type {
  BatchEntry,
  CloseOptions,
  DeadLetters,
  Handler,
  PeekedJob,
  ProcessOptions,
  QueueEvents,
  QueueOptions,
  QueueStats,
  SendOptions,
} from '../types.js';
import { runFanOut } from '../workflows/fanout/fan-out.js';
import type { FanOutOptions, FanOutResult } from '../workflows/fanout/model.js';
import type { JobStatus } from '../workflows/job-records.js';
import { ScheduleRunner } from '../workflows/schedule-runner.js';
import { type ScheduleInfo, Scheduler, type ScheduleSpec } from '../workflows/schedules.js';
import { QueueConnection } from './connection.js';
import { deadLetterApi } from './dead-letters.js';
import { jobStatus, peekJobs, queueMetrics, queueStats } from './inspect.js';
import { queueContext } from './setup.js';

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
  readonly #connection: QueueConnection;
  private consumer: ConsumerLoop<T> | undefined;
  private readonly pendingSends = new Set<Promise<unknown>>();
  private closePromise: Promise<void> | undefined;
  private closed = false;
  private readonly scheduler: Scheduler<T>;
  private readonly scheduleRunner: ScheduleRunner<T>;
  private readonly coalescer: SendCoalescer<T>;
  /** Recurring jobs of this queue. */
  readonly schedules: {
    /** Every schedule, with its last and next run. */
    list(): Promise<ScheduleInfo<T>[]>;
    /** Delete a schedule; resolves false when there was none. */
    remove(name: string): Promise<boolean>;
  };

  constructor(options: QueueOptions<T>) {
    super();
    validateQueueOptions(options);
    this.name = options.name;
    this.#connection = new QueueConnection(options.driver ?? options.url ?? 'memory://');
    this.ownsDriver = options.ownsDriver ?? options.driver === undefined;
    this.context = queueContext(options, {
      driver: () => this.#connection.guarded(),
      provider: () => this.#connection.provider,
      emit: (event, ...args) => this.emit(event, ...args),
    });
    this.scheduler = new Scheduler(this.context, this.context.store);
    this.scheduleRunner = new ScheduleRunner(this.scheduler, this.context);
    this.coalescer = new SendCoalescer(this.context);
    this.schedules = {
      list: () => this.scheduler.list(),
      remove: (name) => this.scheduler.remove(name),
    };
    this.deadLetters = deadLetterApi({
      name: this.name,
      strict: this.context.strict,
      codec: this.context.codec,
      driver: () => this.#connection.guarded(),
      assertOpen: () => this.assertOpen(),
    });
  }

  /** A safe description (no secrets): `Queue(name, provider URL with the password masked)`. */
  override toString(): string {
    const source = this.#connection.describe();
    return `Queue(${this.name}, ${'url' in source ? source.url : `driver:${source.driver}`})`;
  }

  /** What `console.log(queue)` prints: `Queue { name, provider, url }` of {@link toJSON}, nothing else. */
  [Symbol.for('nodejs.util.inspect.custom')](
    _depth?: number,
    options?: object,
    inspect?: (value: unknown, options?: object) => string,
  ): string {
    // Called by hand (some loggers do) there is no `inspect` to format with: the one-line form.
    return typeof inspect === 'function' ? `Queue ${inspect(this.toJSON(), options)}` : this.toString();
  }

  /** JSON form: name, provider (once known) and the masked URL; nothing else. */
  toJSON(): { name: string; provider?: string; url?: string } {
    const source = this.#connection.describe();
    if (!('url' in source)) return { name: this.name, provider: source.driver };
    const { provider } = this.#connection;
    return { name: this.name, ...(provider !== 'unknown' ? { provider } : {}), url: source.url };
  }

  /** The driver, connected on first use. */
  driver(): Promise<Driver> {
    return this.#connection.driver();
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

  /**
   * Send one job; resolves with its id once the broker has accepted it. Sends made in the same turn of
   * the event loop travel together in the driver's batches.
   */
  async send(name: string, data: T, options?: SendOptions): Promise<string> {
    this.assertOpen();
    return this.trackSend(this.coalescer.send({ name, data, ...(options ? { options } : {}) }));
  }

  /** Send many jobs, all validated first; resolves with their ids in order. */
  async sendBatch(entries: readonly BatchEntry<T>[]): Promise<string[]> {
    this.assertOpen();
    if (!Array.isArray(entries)) throw new ConfigError('entries', 'expected an array');
    if (entries.length === 0) return [];
    for (let index = 0; index < entries.length; index++) checkBatchEntry(entries[index], index);
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
    this.scheduleRunner.start();
  }

  /**
   * Create or replace the recurring job `name`: `{ cron, tz }` or `{ every }` (ms), with its `data`.
   * Consumers of this queue (any process sharing the store) run each tick once; a tick missed while
   * no consumer ran is run once when one starts (older missed ticks are coalesced into it).
   */
  async schedule(name: string, spec: ScheduleSpec<T>): Promise<void> {
    this.assertOpen();
    await this.scheduler.upsert(name, spec);
    this.scheduleRunner.wake();
  }

  /**
   * Broker depth (as `stats()`) plus this process's counters: completed, failed, retried,
   * dead-lettered, sent, lock extensions, lost locks, stalled (redelivered) jobs and a processing
   * duration histogram. Enough to alert on growing depth and a rising failure rate.
   */
  async metrics(): Promise<QueueMetrics> {
    return queueMetrics(await this.stats(), this.context.metrics);
  }

  /** Up to `limit` (default 20) waiting jobs, highest band first, without consuming them. */
  async peek(limit = 20): Promise<PeekedJob<T>[]> {
    if (!Number.isInteger(limit) || limit < 1) throw new ConfigError('limit', 'expected an integer ≥ 1');
    const driver = await this.#connection.guarded();
    return peekJobs(driver, this.bands(driver), this.context.codec, limit);
  }

  /** The recorded status of a job: state, progress, result, error, attempts, timestamps. */
  async getJob<R = unknown>(id: string): Promise<JobStatus<R> | undefined> {
    return jobStatus<R>(await this.#connection.guarded(), this.name, this.context.tracker, id);
  }

  /**
   * Split `items` into chunk jobs of `chunkSize` (their data is the chunk, an array). When the last
   * chunk finishes, one reduce job is sent to the `reduce` queue with every chunk's result and the
   * chunks that were dead-lettered. Needs a store shared by every consumer of the chunks.
   */
  async fanOut<I>(name: string, items: readonly I[], options: FanOutOptions): Promise<FanOutResult> {
    this.assertOpen();
    return this.trackSend(runFanOut(this.context, name, items, options));
  }

  /** Counts summed over the queue's physical queues. `active` falls back to this process's in-flight jobs. */
  async stats(): Promise<QueueStats> {
    const driver = await this.#connection.guarded();
    return queueStats(driver, this.bands(driver), this.consumer?.active);
  }

  private bands(driver: Driver): PriorityBands {
    return new PriorityBands(driver, this.name, this.context.strict);
  }

  /**
   * Stop taking jobs, wait for in-flight ones (up to `timeout`) and for sends in progress, then
   * release the driver if this queue owns it. Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (!this.closePromise) {
      this.closePromise = (async () => {
        await this.scheduleRunner.stop();
        await this.consumer?.stop(options.timeout ?? DEFAULT_CLOSE_TIMEOUT_MS);
        await Promise.allSettled([...this.pendingSends]);
        this.closed = true;
        if (this.ownsDriver && this.#connection.started) {
          const driver = await this.#connection.guarded().catch(() => undefined);
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
        (error) => report(this.context, { type: 'error', error }),
      );
    };
    const unregister = () => {
      for (const signal of signals) process.off(signal, onSignal);
    };
    for (const signal of signals) process.once(signal, onSignal);
    return unregister;
  }
}

/** A `sendBatch` entry is an object with a job name (its options and payload are checked with the rest). */
function checkBatchEntry(entry: unknown, index: number): void {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    throw new ConfigError(`entries[${index}]`, 'expected an object { name, data, options? }');
  const { name } = entry as { name?: unknown };
  if (typeof name !== 'string' || name === '')
    throw new ConfigError(`entries[${index}].name`, 'job name must be a non-empty string');
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
