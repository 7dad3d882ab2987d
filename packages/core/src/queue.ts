import { type Codec, decodeOrUndefined, jsonCodec } from './codec.js';
import { validateProcessOptions, validateQueueOptions } from './config.js';
import { ConsumerLoop } from './consumer.js';
import { physicalQueues, type QueueContext } from './context.js';
import type { Driver } from './driver.js';
import { ConfigError, QueueClosedError, UnsupportedFeatureError } from './errors.js';
import { TypedEmitter } from './events.js';
import { H, intHeader, userHeaders } from './headers.js';
import { type FanOutOptions, type FanOutResult, runFanOut } from './fanout.js';
import { SendCoalescer, sendEntries } from './producer.js';
import { RateLimiter } from './rate-limit.js';
import { type ScheduleInfo, Scheduler, type ScheduleSpec } from './schedules.js';
import { defaultStore } from './store/memory.js';
import type { Store } from './store/types.js';
import { type QueueMetrics, MetricsRecorder } from './metrics.js';
import { loadOtel, otelInstruments } from './telemetry.js';
import { abortableDelay } from './timers.js';
import { type JobStatus, JobTracker } from './tracking.js';
import { redactUrl } from './redact.js';
import { driverFromUrl } from './registry.js';
import type {
  BatchEntry,
  CloseOptions,
  DeadLetterRecord,
  DeadLetters,
  Handler,
  PeekedJob,
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
const DEFAULT_RESULT_TTL_MS = 24 * 3_600_000;
/** How often a consumer looks for schedules added by other processes. */
const SCHEDULE_SCAN_MS = 5_000;

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
  #driverPromise: Promise<Driver> | undefined;
  // ES private: never shown by util.inspect, so URLs with passwords and driver internals stay hidden.
  readonly #driverSource: Driver | string;
  private consumer: ConsumerLoop<T> | undefined;
  private readonly pendingSends = new Set<Promise<unknown>>();
  private closePromise: Promise<void> | undefined;
  private closed = false;
  private readonly scheduler: Scheduler<T>;
  private readonly coalescer: SendCoalescer<T>;
  private readonly schedulerStop = new AbortController();
  private schedulerLoop: Promise<void> | undefined;
  private wakeScheduler: (() => void) | undefined;
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
    this.#driverSource = options.driver ?? options.url ?? 'memory://';
    this.ownsDriver = options.ownsDriver ?? options.driver === undefined;
    if (options.store !== undefined && typeof options.store?.merge !== 'function') {
      throw new ConfigError(
        'store',
        'expected a Store (MemoryStore, @queuekit/store-redis, @queuekit/store-postgres)',
      );
    }
    if (options.rateLimit !== undefined) {
      const { max, duration } = options.rateLimit;
      if (!Number.isInteger(max) || max < 1)
        throw new ConfigError('rateLimit.max', 'expected an integer ≥ 1');
      if (!Number.isInteger(duration) || duration < 1)
        throw new ConfigError('rateLimit.duration', 'expected an integer ≥ 1 (ms)');
    }
    if (options.results !== undefined && options.results !== false) {
      const ttl = options.results.ttl;
      if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1))
        throw new ConfigError('results.ttl', 'expected an integer ≥ 1 (ms)');
    }
    const store: Store = options.store ?? defaultStore();
    const resultTtlMs =
      (options.results === false ? undefined : options.results?.ttl) ?? DEFAULT_RESULT_TTL_MS;
    this.context = {
      name: options.name,
      store,
      tracker: options.results === false ? undefined : new JobTracker(store, options.name, resultTtlMs),
      rateLimiter: options.rateLimit ? new RateLimiter(store, options.name, options.rateLimit) : undefined,
      rateLimit: options.rateLimit,
      resultTtlMs,
      metrics: new MetricsRecorder(),
      otel: otelInstruments(options.name, () => this.provider),
      codec: options.codec ?? (jsonCodec as Codec<T>),
      schema: options.schema,
      defaults: options.defaults ?? {},
      strict: options.strict ?? false,
      maxDelayHop: options.maxDelayHop,
      driver: () => this.driver(),
      emit: (event, ...args) => this.emit(event, ...args),
    };
    this.scheduler = new Scheduler(this.context, store);
    this.coalescer = new SendCoalescer(this.context);
    this.schedules = {
      list: () => this.scheduler.list(),
      remove: (name) => this.scheduler.remove(name),
    };
    this.deadLetters = {
      list: (opts) => this.listDeadLetters(opts?.limit ?? 100),
      redrive: (ids) => this.redrive(ids),
      purge: () => this.purgeDeadLetters(),
    };
  }

  private provider = 'unknown';

  /** A safe description (no secrets): `Queue(name, provider URL with the password masked)`. */
  override toString(): string {
    const source = this.#driverSource;
    return `Queue(${this.name}, ${typeof source === 'string' ? redactUrl(source) : `driver:${source.provider}`})`;
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
    const source = this.#driverSource;
    if (typeof source !== 'string') return { name: this.name, provider: source.provider };
    return {
      name: this.name,
      ...(this.provider !== 'unknown' ? { provider: this.provider } : {}),
      url: redactUrl(source),
    };
  }

  /** The driver, connected on first use. */
  driver(): Promise<Driver> {
    if (!this.#driverPromise) {
      const source = this.#driverSource;
      const created = typeof source === 'string' ? driverFromUrl(source) : Promise.resolve(source);
      // OpenTelemetry is optional; loading it with the driver makes the first send traced too.
      this.#driverPromise = Promise.all([created, loadOtel()]).then(([driver]) => {
        this.provider = driver.provider;
        return driver;
      });
      // A failed connection is retried on the next call rather than cached forever.
      this.#driverPromise.catch(() => {
        this.#driverPromise = undefined;
      });
    }
    return this.#driverPromise;
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
    this.schedulerLoop = this.runSchedules();
  }

  /** Consumers run the due ticks of every schedule; the store's leases make each tick run once. */
  private async runSchedules(): Promise<void> {
    const stop = this.schedulerStop.signal;
    while (!stop.aborted) {
      let wait = SCHEDULE_SCAN_MS;
      try {
        await this.scheduler.runDue();
        const next = await this.scheduler.nextDueAt();
        if (next !== undefined) wait = Math.max(10, Math.min(wait, next - Date.now() + 5));
      } catch (error) {
        this.emit('error', error instanceof Error ? error : new Error(String(error)));
      }
      await Promise.race([
        abortableDelay(wait, stop),
        new Promise<void>((resolve) => {
          this.wakeScheduler = resolve;
        }),
      ]);
    }
  }

  /**
   * Create or replace the recurring job `name`: `{ cron, tz }` or `{ every }` (ms), with its `data`.
   * Consumers of this queue (any process sharing the store) run each tick once; a tick missed while
   * no consumer ran is run once when one starts (older missed ticks are coalesced into it).
   */
  async schedule(name: string, spec: ScheduleSpec<T>): Promise<void> {
    this.assertOpen();
    await this.scheduler.upsert(name, spec);
    this.wakeScheduler?.();
  }

  /**
   * Broker depth (as `stats()`) plus this process's counters: completed, failed, retried,
   * dead-lettered, sent, lock extensions, lost locks, stalled (redelivered) jobs and a processing
   * duration histogram. Enough to alert on growing depth and a rising failure rate.
   */
  async metrics(): Promise<QueueMetrics> {
    const stats = await this.stats();
    const m = this.context.metrics;
    return {
      ...stats,
      completed: m.completed,
      failed: m.failed,
      retried: m.retried,
      deadLetteredTotal: m.deadLettered,
      sent: m.sent,
      lockExtensions: m.lockExtensions,
      locksLost: m.locksLost,
      stalled: m.stalled,
      processingDuration: m.histogram(),
    };
  }

  /** Up to `limit` (default 20) waiting jobs, highest band first, without consuming them. */
  async peek(limit = 20): Promise<PeekedJob<T>[]> {
    if (!Number.isInteger(limit) || limit < 1) throw new ConfigError('limit', 'expected an integer ≥ 1');
    const driver = await this.driver();
    if (!driver.peek) throw new UnsupportedFeatureError('peek', driver.provider);
    const out: PeekedJob<T>[] = [];
    for (const queue of physicalQueues(driver, this.name, this.context.strict)) {
      if (out.length >= limit) break;
      for (const message of await driver.peek(queue, limit - out.length)) {
        const data = decodeOrUndefined(this.context.codec, message.body);
        const notBefore = intHeader(message.headers, H.notBefore, 0);
        out.push({
          id: message.id,
          name: message.name ?? message.headers[H.name] ?? 'default',
          data,
          priority: message.priority ?? intHeader(message.headers, H.priority, 0),
          attempt: intHeader(message.headers, H.attempt, 1) + Math.max(0, message.deliveryCount - 1),
          headers: userHeaders(message.headers),
          ...(message.enqueuedAt ? { enqueuedAt: message.enqueuedAt } : {}),
          ...(notBefore > 0 ? { runAt: new Date(notBefore) } : {}),
        });
      }
    }
    return out;
  }

  /** The recorded status of a job: state, progress, result, error, attempts, timestamps. */
  async getJob<R = unknown>(id: string): Promise<JobStatus<R> | undefined> {
    const native = (await this.driver()).workflows?.jobs;
    if (native) {
      const status = await native.get(this.name, id);
      if (!status) return undefined;
      const updatedAt = status.finishedAt ?? status.startedAt ?? status.createdAt ?? new Date();
      return {
        ...status,
        id,
        queue: this.name,
        updatedAt,
        ...(status.result === undefined ? {} : { result: status.result as R }),
      } as JobStatus<R>;
    }
    if (!this.context.tracker) return undefined;
    return this.context.tracker.get<R>(id);
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
        const data = decodeOrUndefined(this.context.codec, message.body);
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
        this.schedulerStop.abort();
        this.wakeScheduler?.();
        await this.schedulerLoop;
        await this.consumer?.stop(options.timeout ?? DEFAULT_CLOSE_TIMEOUT_MS);
        await Promise.allSettled([...this.pendingSends]);
        this.closed = true;
        if (this.ownsDriver && this.#driverPromise) {
          const driver = await this.#driverPromise.catch(() => undefined);
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
