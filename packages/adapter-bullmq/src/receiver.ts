import { abortableDelay } from '@queuekit/core';
import { type Job, type JobJson, Worker, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * A BullMQ Worker without a processor, used for manual fetching (`getNextJob`). Its blocking
 * wait is capped so that a fetch does not outlive the `receive` call that started it by much.
 */
export class FetchWorker extends Worker {
  /** Longest single blocking wait for a job, in seconds. */
  blockCapSeconds = 1;

  protected override getBlockTimeout(blockUntil: number): number {
    const timeout = super.getBlockTimeout(blockUntil);
    return timeout <= 0 ? timeout : Math.min(timeout, this.blockCapSeconds);
  }

  /**
   * For a job scheduler's run: the tick of the scheduler's latest run as it was just before this
   * fetch (BullMQ schedules the next run while returning the fetched one), by job id. Read once.
   */
  private readonly latestTicks = new Map<string, number>();
  /** Connection used to read the scheduler's latest tick (the receiver's shared one). */
  redis: Redis | undefined;

  protected override async nextJobFromJobData(
    jobData?: JobJson,
    jobId?: string,
    token?: string,
  ): Promise<Job> {
    const key = jobData?.repeatJobKey;
    if (key && jobId && this.redis) {
      try {
        const score = await this.redis.zscore(this.toKey('repeat'), key);
        if (score !== null) this.latestTicks.set(jobId, Number(score));
      } catch {
        // Unknown: the run is then delivered (never skipped).
      }
    }
    return super.nextJobFromJobData(jobData, jobId, token);
  }

  /** See {@link latestTicks}; forgets the entry. */
  takeLatestTick(jobId: string | undefined): number | undefined {
    if (jobId === undefined) return undefined;
    const tick = this.latestTicks.get(jobId);
    this.latestTicks.delete(jobId);
    return tick;
  }

  /**
   * When the lock of each fetched job runs out (epoch ms), counted from just before the call that
   * took it: a job can wait in the receiver's buffer before a take hands it out, so the lock is
   * older than the delivery.
   */
  private readonly lockExpiry = new WeakMap<Job, number>();

  protected override async moveToActive(token: string, name?: string): Promise<Job> {
    const lockedUntil = Date.now() + (this.opts.lockDuration ?? 0);
    const job = await super.moveToActive(token, name);
    if (job) this.lockExpiry.set(job, lockedUntil);
    return job;
  }

  /** Record a renewal of the job's lock (see {@link lockExpiry}). */
  noteLock(job: Job, lockedUntil: number): void {
    this.lockExpiry.set(job, lockedUntil);
  }

  /** See {@link lockExpiry}; `undefined` for a job this worker did not fetch. */
  lockedUntil(job: Job): number | undefined {
    return this.lockExpiry.get(job);
  }

  /**
   * The job BullMQ fetched while completing another one (`moveToCompleted(..., fetchNext)`);
   * `calledAt` is when that call started (its lock is no older).
   */
  async nextFromCompletion(next: unknown, token: string, calledAt: number): Promise<Job | undefined> {
    if (!Array.isArray(next) || !next[0]) return undefined;
    const job = (await this.nextJobFromJobData(next[0], next[1], token)) ?? undefined;
    if (job) this.lockExpiry.set(job, calledAt + (this.opts.lockDuration ?? 0));
    return job;
  }
}

/** Settings of one {@link QueueReceiver}. */
export interface ReceiverSettings {
  readonly prefix: string;
  readonly connection: Redis;
  readonly limiter: { readonly max: number; readonly duration: number } | undefined;
  readonly stalledIntervalMs: number | undefined;
  /** BullMQ worker `name` (see `BullmqDriverOptions.workerName`). */
  readonly workerName: string | undefined;
  /** BullMQ worker `metrics` (see `BullmqDriverOptions.metrics`). */
  readonly metrics: { readonly maxDataPoints: number } | undefined;
  readonly onError: (error: Error) => void;
}

/** What a take asks for. */
export interface TakeOptions {
  readonly max: number;
  readonly waitMs: number;
  readonly lockMs: number;
  readonly signal: AbortSignal;
}

type FetchOutcome = { readonly job: Job | undefined } | { readonly error: unknown };
type Waiter = (outcome: FetchOutcome) => void;

interface Buffered {
  readonly job: Job;
  /** Hand the job back when no take claims it by then (epoch ms). */
  readonly until: number;
}

/** First and longest pause between quick empty answers of BullMQ's fetch (see `first`). */
const QUICK_MISS_PAUSE_MS = 5;
const QUICK_MISS_PAUSE_MAX_MS = 50;

/** Never reached: queuekit counts deliveries itself and dead-letters on its own policy. */
const UNLIMITED_STALLS = 1_000_000_000;

/**
 * Fetches jobs of one queue under lock with BullMQ's manual-processing API. Concurrent takes
 * share one blocking fetch. A job fetched after its taker gave up (timeout or abort) is kept for
 * the next take, or handed back to the queue when no take comes soon or the consumer stopped.
 */
export class QueueReceiver {
  readonly worker: FetchWorker;
  private tokenSeq = 0;
  private pending: Promise<void> | undefined;
  private readonly waiters: Waiter[] = [];
  private readonly buffer: Buffered[] = [];
  private sweeper: NodeJS.Timeout | undefined;
  private consumerStopped = false;
  private readonly givingBack = new Set<Promise<void>>();
  private lockMs: number;
  private closed = false;
  private lastSignal: AbortSignal | undefined;

  constructor(
    queue: string,
    readonly settings: ReceiverSettings,
    lockMs: number,
  ) {
    this.lockMs = lockMs;
    const options: WorkerOptions = {
      connection: settings.connection,
      prefix: settings.prefix,
      autorun: false,
      maxStalledCount: UNLIMITED_STALLS,
      lockDuration: lockMs,
      stalledInterval: this.stalledInterval(lockMs),
      drainDelay: 1,
      ...(settings.limiter ? { limiter: { ...settings.limiter } } : {}),
      ...(settings.workerName ? { name: settings.workerName } : {}),
      ...(settings.metrics ? { metrics: { maxDataPoints: settings.metrics.maxDataPoints } } : {}),
    };
    this.worker = new FetchWorker(queue, null, options);
    this.worker.redis = settings.connection;
    this.worker.on('error', (error: Error) => settings.onError(error));
    this.worker.startStalledCheckTimer().catch((error: unknown) => {
      if (!this.closed) settings.onError(error instanceof Error ? error : new Error(String(error)));
    });
  }

  /**
   * Whether completing a job should fetch the next one in the same call (BullMQ's `fetchNext`):
   * only while a consumer is taking from this queue. The job is kept for that consumer's next
   * take, which comes as soon as the completed job frees its slot.
   */
  get wantsNext(): boolean {
    return !this.closed && !this.consumerStopped && this.lastSignal !== undefined && !this.lastSignal.aborted;
  }

  /** Keep a job fetched by a completion for the next take. */
  async keepNext(next: unknown, token: string, calledAt: number): Promise<void> {
    const job = await this.worker.nextFromCompletion(next, token, calledAt);
    if (job) this.adopt(job);
  }

  /** Take up to `max` jobs, waiting up to `waitMs` for the first one. */
  async take(options: TakeOptions): Promise<Job[]> {
    this.consumerStopped = false;
    this.lastSignal = options.signal;
    this.configure(options.lockMs);
    const out = await this.drainBuffer(options.max);
    if (out.length === 0) {
      const first = await this.first(options);
      if (first) out.push(first);
    }
    if (out.length > 0 && out.length < options.max && !options.signal.aborted && !this.closed) {
      try {
        out.push(...(await this.fetchMore(options.max - out.length)));
      } catch (error) {
        // The jobs already taken are handed out all the same; the error is reported, not thrown.
        this.settings.onError(error instanceof Error ? error : new Error(String(error)));
      }
    }
    return out;
  }

  /** The driver closed this receiver: its deliveries can no longer be settled. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Apply BullMQ's limiter (one counter per queue in Redis, shared by every consumer of the queue). */
  setLimiter(limit: { readonly max: number; readonly duration: number }): void {
    this.worker.opts.limiter = { max: limit.max, duration: limit.duration };
  }

  private configure(lockMs: number): void {
    this.lockMs = lockMs;
    this.worker.opts.lockDuration = lockMs;
    this.worker.opts.stalledInterval = this.stalledInterval(lockMs);
  }

  /** Expired locks are looked for every half lock (250 ms to 30 s) unless the options say otherwise. */
  private stalledInterval(lockMs: number): number {
    return this.settings.stalledIntervalMs ?? Math.min(30_000, Math.max(250, Math.floor(lockMs / 2)));
  }

  private nextToken(): string {
    this.tokenSeq += 1;
    return `${this.worker.id}:${this.tokenSeq}`;
  }

  /**
   * Up to `max` buffered jobs. One whose lock has run for more than a third is extended first, so
   * that every job handed out has at least two thirds of a lock left (a consumer that renews on
   * its own schedule, counted from the hand-out, then renews in time); one whose lock is already
   * gone is dropped (the stalled check returns it to the queue).
   */
  private async drainBuffer(max: number): Promise<Job[]> {
    const taken = this.buffer.splice(0, max).map((entry) => entry.job);
    if (taken.length === 0) return taken;
    const fresh = await Promise.all(taken.map((job) => this.withFreshLock(job)));
    return fresh.filter((job): job is Job => job !== undefined);
  }

  private async withFreshLock(job: Job): Promise<Job | undefined> {
    const expiry = this.worker.lockedUntil(job) ?? 0;
    if (expiry - Date.now() > (this.lockMs * 2) / 3) return job;
    const calledAt = Date.now();
    try {
      const extended = await job.extendLock(job.token ?? '', this.lockMs);
      if (!extended) return undefined;
      this.worker.noteLock(job, calledAt + this.lockMs);
      return job;
    } catch (error) {
      this.settings.onError(error instanceof Error ? error : new Error(String(error)));
      return undefined;
    }
  }

  /** The first job: one non-blocking try when `waitMs` is 0, else a long poll until the deadline. */
  private async first(options: TakeOptions): Promise<Job | undefined> {
    if (options.waitMs <= 0) return this.fetchNow();
    const deadline = Date.now() + options.waitMs;
    let quickMisses = 0;
    while (!options.signal.aborted && !this.closed) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return undefined;
      const started = Date.now();
      const outcome = await this.awaitFetch(remaining, options.signal);
      if (outcome === 'timeout' || outcome === 'aborted') return undefined;
      if ('error' in outcome) throw outcome.error;
      if (outcome.job) return outcome.job;
      // Nothing yet. BullMQ answers at once, without blocking, once after a fetch (until it sees the
      // queue drained) and after a stale wake-up marker; repeatedly only while rate limited. Pace
      // repeated quick answers (5, 10, 20, 40, 50 ms...), never the first two.
      if (Date.now() - started >= 5) quickMisses = 0;
      else if (++quickMisses >= 3) {
        const pause = Math.min(
          QUICK_MISS_PAUSE_MAX_MS,
          QUICK_MISS_PAUSE_MS * 2 ** (quickMisses - 3),
          remaining,
        );
        await abortableDelay(pause, options.signal);
      }
    }
    return undefined;
  }

  private async fetchNow(): Promise<Job | undefined> {
    return (await this.worker.getNextJob(this.nextToken(), { block: false })) ?? undefined;
  }

  /**
   * Up to `count` more jobs, fetched in parallel, but no more fetches than jobs waiting now: each
   * fetch is a script run in Redis, and at a low rate a receive for 50 free slots would otherwise
   * run 49 that find nothing for every job it gets.
   */
  private async fetchMore(count: number): Promise<Job[]> {
    const waiting = Math.min(count, await this.waitingCount());
    if (waiting <= 0) return [];
    const results = await Promise.allSettled(Array.from({ length: waiting }, () => this.fetchNow()));
    const jobs: Job[] = [];
    let failure: unknown;
    for (const result of results) {
      if (result.status === 'fulfilled') {
        if (result.value) jobs.push(result.value);
      } else failure ??= result.reason;
    }
    if (failure !== undefined)
      this.settings.onError(failure instanceof Error ? failure : new Error(String(failure)));
    return jobs;
  }

  /** Jobs ready to be fetched (BullMQ's wait list and prioritized set; not paused, delayed or active ones). */
  private async waitingCount(): Promise<number> {
    const { keys } = this.worker;
    const replies = await this.settings.connection
      .pipeline()
      .llen(keys.wait as string)
      .zcard(keys.prioritized as string)
      .exec();
    let count = 0;
    for (const [error, value] of replies ?? []) {
      if (error) throw error;
      count += Number(value) || 0;
    }
    return count;
  }

  /** Wait on the shared blocking fetch (starting one when none runs). */
  private awaitFetch(
    remainingMs: number,
    signal: AbortSignal,
  ): Promise<FetchOutcome | 'timeout' | 'aborted'> {
    this.worker.blockCapSeconds = Math.max(0.01, remainingMs / 1000);
    if (!this.pending) this.startFetch();
    return new Promise((resolve) => {
      const finish = (value: FetchOutcome | 'timeout' | 'aborted') => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const waiter: Waiter = (outcome) => finish(outcome);
      const leave = () => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
      };
      const onAbort = () => {
        leave();
        this.consumerStopped = true;
        finish('aborted');
      };
      const timer = setTimeout(() => {
        leave();
        finish('timeout');
      }, remainingMs);
      this.waiters.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private startFetch(): void {
    this.pending = this.worker.getNextJob(this.nextToken(), { block: true }).then(
      (job) => this.fetched({ job: job ?? undefined }),
      (error: unknown) => this.fetched({ error }),
    );
  }

  private fetched(outcome: FetchOutcome): void {
    this.pending = undefined;
    const waiters = this.waiters.splice(0, this.waiters.length);
    if ('job' in outcome && outcome.job) {
      const first = waiters.shift();
      if (first) first(outcome);
      else this.adopt(outcome.job);
      for (const waiter of waiters) waiter({ job: undefined });
      return;
    }
    for (const waiter of waiters) waiter(outcome);
  }

  /** A job nobody waits for any more: keep it briefly for the next take, or hand it back. */
  private adopt(job: Job): void {
    if (this.closed || this.consumerStopped) {
      this.trackGiveBack(job);
      return;
    }
    const keepMs = Math.max(50, Math.floor(this.lockMs / 2));
    this.buffer.push({ job, until: Date.now() + keepMs });
    if (!this.sweeper) {
      this.sweeper = setTimeout(() => this.sweep(), keepMs);
      this.sweeper.unref();
    }
  }

  /** Hand back buffered jobs nobody took in time; one timer for the whole buffer. */
  private sweep(): void {
    this.sweeper = undefined;
    const now = Date.now();
    while (this.buffer.length > 0 && (this.buffer[0] as Buffered).until <= now) {
      this.trackGiveBack((this.buffer.shift() as Buffered).job);
    }
    const next = this.buffer[0];
    if (next && !this.closed) {
      this.sweeper = setTimeout(() => this.sweep(), Math.max(1, next.until - now));
      this.sweeper.unref();
    }
  }

  /** Return a fetched job that will not be delivered, its delivery count undone (see {@link giveBack}). */
  handBack(job: Job): Promise<void> {
    return this.giveBack(job);
  }

  private trackGiveBack(job: Job): void {
    const work = this.giveBack(job).finally(() => this.givingBack.delete(work));
    this.givingBack.add(work);
  }

  /**
   * Return a job that was fetched but never handed to a consumer, undoing the delivery count
   * BullMQ added on fetch (done first, while the lock is still ours). If this fails, the lock
   * expires and the stalled check returns the job.
   */
  private async giveBack(job: Job): Promise<void> {
    const token = job.token;
    this.worker.takeLatestTick(job.id);
    if (!token || job.id === undefined) return;
    try {
      await this.settings.connection.hincrby(this.worker.toKey(job.id), 'ats', -1);
      await job.moveToWait(token);
    } catch (error) {
      if (!this.closed) this.settings.onError(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Hand back buffered jobs, stop the stalled checker and close the blocking connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const buffered = this.buffer.splice(0, this.buffer.length);
    clearTimeout(this.sweeper);
    this.sweeper = undefined;
    await Promise.all(buffered.map((entry) => this.giveBack(entry.job)));
    for (const waiter of this.waiters.splice(0, this.waiters.length)) waiter({ job: undefined });
    await this.worker.close(true);
    await this.pending?.catch(() => undefined);
    await Promise.all([...this.givingBack]);
  }
}
