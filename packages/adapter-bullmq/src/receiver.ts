import {
  abortableDelay,
  CORE_HEADERS as H,
  capErrorText,
  type DeadLetterInfo,
  type Delivery,
  LockLostError,
  type RateLimit,
  type ReceivedMessage,
  type ReceiveOptions,
} from '@queuekit/core';
import { type ClassifyContext, createDelivery, type WakeReason, Wakeup } from '@queuekit/core/driver-kit';
import { type Job, type JobJson, type JobsOptions, Worker, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ResolvedOptions } from './options.js';
import {
  DEAD_LETTER_FIELD,
  type DeadLetterRecord,
  encodeOpts,
  META_OPTION,
  readMeta,
  STARTED_BEFORE_FIELD,
  StoredJob,
} from './wire.js';

/**
 * A BullMQ Worker without a processor, for manual fetching (`getNextJob`). Its blocking wait is capped so
 * that a fetch does not outlive the `receive` that started it by much.
 */
export class FetchWorker extends Worker {
  protected override get Job(): typeof Job {
    // Reads a job whose stored data is not JSON instead of throwing (see `StoredJob.fromJSON`).
    return StoredJob as unknown as typeof Job;
  }

  /** Longest single blocking wait for a job, in seconds. */
  blockCapSeconds = 1;
  /** Connection that reads a scheduler's latest tick (the receiver's shared one). */
  redis: Redis | undefined;
  /** For a scheduler's run: the scheduler's latest tick just before this fetch (BullMQ moves it on). */
  private readonly latestTicks = new Map<string, number>();
  /**
   * When each fetched job's lock runs out, counted from just before the call that took it: a job can wait in
   * the receiver's buffer, so its lock is older than its delivery. On `performance.now()`, as every duration
   * the receiver keeps: a wall clock that jumps neither ages nor renews a lock.
   */
  readonly lockExpiry = new WeakMap<Job, number>();
  /** Each fetched job's data as stored (JSON text), which its body is built from (see `fromBullJob`). */
  readonly storedData = new WeakMap<Job, string>();

  protected override getBlockTimeout(blockUntil: number): number {
    const timeout = super.getBlockTimeout(blockUntil);
    return timeout <= 0 ? timeout : Math.min(timeout, this.blockCapSeconds);
  }

  protected override async nextJobFromJobData(
    jobData?: JobJson,
    jobId?: string,
    token?: string,
  ): Promise<Job> {
    const key = jobData?.repeatJobKey;
    if (key && jobId && this.redis) {
      // Unknown on an error: the run is then delivered (never skipped).
      const score = await this.redis.zscore(this.toKey('repeat'), key).catch(() => null);
      if (score !== null) this.latestTicks.set(jobId, Number(score));
    }
    const job = await super.nextJobFromJobData(jobData, jobId, token);
    if (job && typeof jobData?.data === 'string') this.storedData.set(job, jobData.data);
    return job;
  }

  /** See {@link latestTicks}; forgets the entry. */
  takeLatestTick(jobId: string | undefined): number | undefined {
    const tick = jobId === undefined ? undefined : this.latestTicks.get(jobId);
    if (jobId !== undefined) this.latestTicks.delete(jobId);
    return tick;
  }

  protected override async moveToActive(token: string, name?: string): Promise<Job> {
    const lockedUntil = performance.now() + (this.opts.lockDuration ?? 0);
    const job = await super.moveToActive(token, name);
    if (job) this.lockExpiry.set(job, lockedUntil);
    return job;
  }

  /** The job BullMQ locked while completing another (`fetchNext`); `calledAt`: when that call started. */
  async nextFromCompletion(next: unknown, token: string, calledAt: number): Promise<Job | undefined> {
    if (!Array.isArray(next) || !next[0]) return undefined;
    const job = (await this.nextJobFromJobData(next[0], next[1], token)) ?? undefined;
    if (job) this.lockExpiry.set(job, calledAt + (this.opts.lockDuration ?? 0));
    return job;
  }
}

/** Settings of one {@link QueueReceiver}: the driver's options, its consumer connection and error handling. */
export interface ReceiverSettings
  extends Pick<ResolvedOptions, 'stalledIntervalMs' | 'workerName' | 'metrics' | 'limiter'> {
  readonly prefix: string;
  readonly connection: Redis;
  readonly onError: (error: Error) => void;
  /** The driver's error mapping and scrubbing, for its deliveries. */
  readonly context: ClassifyContext;
}

/** A delivery of this driver: a settle-once kit delivery plus the in-place replacement `send` uses. */
export interface HeldDelivery extends Delivery {
  readonly raw: Job;
  readonly deliveryToken: string;
  /** Whether a settlement (or replacement) is in progress. */
  busy(): boolean;
  replaceWith(opts: JobsOptions, delayMs: number): Promise<void>;
}

type FetchOutcome = { readonly job: Job | undefined } | { readonly error: unknown };

/** First and longest pause between quick empty answers of BullMQ's fetch (see `first`). */
const MISS_PAUSE_MS = 5;
const MISS_PAUSE_MAX_MS = 50;
/** Never reached: queuekit counts deliveries itself and dead-letters on its own policy. */
const UNLIMITED_STALLS = 1_000_000_000;
/** Stack traces kept on a job (BullMQ's `stacktrace`, shown by Bull Board), unless it sets `stackTraceLimit`. */
const STACK_TRACES_KEPT = 10;

const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));

/**
 * Fetches jobs of one queue under lock with BullMQ's manual-processing API. Concurrent takes share one
 * blocking fetch. A job fetched after its taker gave up (timeout, abort) or by a completion's `fetchNext`
 * is kept for the next take, or handed back when no take comes soon or the consumer stopped.
 */
export class QueueReceiver {
  readonly worker: FetchWorker;
  private tokenSeq = 0;
  private pending: Promise<void> | undefined;
  /** Woken when the shared fetch ends; `outcome` is what it got. */
  private readonly arrived = new Wakeup();
  private outcome: FetchOutcome = { job: undefined };
  private readonly buffer: { readonly job: Job; readonly until: number }[] = [];
  private sweeper: NodeJS.Timeout | undefined;
  private consumerStopped = false;
  private readonly givingBack = new Set<Promise<void>>();
  private closed = false;
  private lastSignal: AbortSignal | undefined;
  /** The last `first` found the queue empty before its job came. */
  private foundIdle = false;

  constructor(
    queue: string,
    readonly settings: ReceiverSettings,
    private lockMs: number,
  ) {
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
      ...(settings.metrics ? { metrics: { ...settings.metrics } } : {}),
    };
    this.worker = new FetchWorker(queue, null, options);
    this.worker.redis = settings.connection;
    this.worker.on('error', (error: Error) => settings.onError(error));
    this.worker.startStalledCheckTimer().catch((error: unknown) => this.report(error));
  }

  private report(error: unknown): void {
    if (!this.closed) this.settings.onError(asError(error));
  }

  /**
   * Whether a completion should lock the next job in the same script (`fetchNext`): only while a consumer
   * takes from this queue, whose next take comes as soon as the completed job frees its slot.
   */
  private get wantsNext(): boolean {
    return !this.closed && !this.consumerStopped && this.lastSignal !== undefined && !this.lastSignal.aborted;
  }

  /** Take up to `max` jobs, waiting up to `waitMs` for the first one. */
  async take(options: ReceiveOptions): Promise<Job[]> {
    this.consumerStopped = false;
    this.lastSignal = options.signal;
    this.lockMs = options.lockMs;
    this.worker.opts.lockDuration = options.lockMs;
    this.worker.opts.stalledInterval = this.stalledInterval(options.lockMs);
    const out = await this.drainBuffer(options.max);
    // A job that ended a wait on an empty queue is handed out at once: counting the waiting jobs first would
    // add a Redis round trip to every job of an idle consumer, and the next take finds any that came since.
    let idle = false;
    if (out.length === 0) {
      const first = await this.first(options);
      if (first) out.push(first);
      idle = this.foundIdle;
    }
    if (!idle && out.length > 0 && out.length < options.max && !options.signal.aborted && !this.closed) {
      // The jobs already taken are handed out all the same; an error is reported, not thrown.
      const more = await this.fetchMore(options.max - out.length).catch((error: unknown) => {
        this.settings.onError(asError(error));
        return [];
      });
      out.push(...more);
    }
    return out;
  }

  /** BullMQ's limiter: one counter per queue in Redis, shared by every consumer of the queue. */
  setLimiter(limit: RateLimit): void {
    this.worker.opts.limiter = { max: limit.max, duration: limit.duration };
  }

  private stalledInterval(lockMs: number): number {
    return this.settings.stalledIntervalMs ?? Math.min(30_000, Math.max(250, Math.floor(lockMs / 2)));
  }

  private nextToken(): string {
    return `${this.worker.id}:${++this.tokenSeq}`;
  }

  /**
   * Up to `max` buffered jobs, each with at least two thirds of a lock left (a consumer renewing on its own
   * schedule from the hand-out then renews in time): older locks are extended first, lost ones dropped
   * (the stalled check returns those jobs).
   */
  private async drainBuffer(max: number): Promise<Job[]> {
    const taken = this.buffer.splice(0, max).map((entry) => entry.job);
    if (taken.length === 0) return taken;
    const fresh = await Promise.all(taken.map((job) => this.withFreshLock(job)));
    return fresh.filter((job): job is Job => job !== undefined);
  }

  private async withFreshLock(job: Job): Promise<Job | undefined> {
    if ((this.worker.lockExpiry.get(job) ?? 0) - performance.now() > (this.lockMs * 2) / 3) return job;
    const calledAt = performance.now();
    try {
      if (!(await job.extendLock(job.token ?? '', this.lockMs))) return undefined;
      this.worker.lockExpiry.set(job, calledAt + this.lockMs);
      return job;
    } catch (error) {
      this.settings.onError(asError(error));
      return undefined;
    }
  }

  /** The first job: one non-blocking try when `waitMs` is 0, else a long poll until the deadline. */
  private async first(options: ReceiveOptions): Promise<Job | undefined> {
    this.foundIdle = false;
    if (options.waitMs <= 0) return this.fetchNow();
    const deadline = performance.now() + options.waitMs;
    let quickMisses = 0;
    while (!options.signal.aborted && !this.closed) {
      // A completion's `fetchNext` may have locked a job while this take waited: hand it out now, not after
      // the blocking fetch times out.
      if (this.buffer.length > 0) {
        const [buffered] = await this.drainBuffer(1);
        if (buffered) return buffered;
        continue;
      }
      const remaining = deadline - performance.now();
      if (remaining <= 0) return undefined;
      const started = performance.now();
      const outcome = await this.awaitFetch(remaining, options.signal);
      if (typeof outcome === 'string') return undefined;
      if ('error' in outcome) throw outcome.error;
      if (outcome.job) return outcome.job;
      this.foundIdle = true;
      if (this.buffer.length > 0) continue;
      // BullMQ answers at once, without blocking, once after a fetch (until it sees the queue drained) and
      // after a stale wake-up marker; repeatedly only while rate limited. Pace repeated quick answers (5,
      // 10, 20, 40, 50 ms...), never the first two.
      if (performance.now() - started >= 5) quickMisses = 0;
      else if (++quickMisses >= 3) {
        const pause = Math.min(MISS_PAUSE_MAX_MS, MISS_PAUSE_MS * 2 ** (quickMisses - 3), remaining);
        await abortableDelay(pause, options.signal);
      }
    }
    return undefined;
  }

  private async fetchNow(): Promise<Job | undefined> {
    return (await this.worker.getNextJob(this.nextToken(), { block: false })) ?? undefined;
  }

  /**
   * Up to `count` more jobs, fetched in parallel, but no more fetches than jobs waiting now: each is a
   * script run in Redis, and at a low rate a receive for 50 slots would otherwise run 49 that find nothing.
   */
  private async fetchMore(count: number): Promise<Job[]> {
    const { keys } = this.worker;
    const { connection } = this.settings;
    const [wait, prioritized] = await Promise.all([
      connection.llen(keys.wait as string),
      connection.zcard(keys.prioritized as string),
    ]);
    const results = await Promise.allSettled(
      Array.from({ length: Math.min(count, wait + prioritized) }, () => this.fetchNow()),
    );
    const failure = results.find((result) => result.status === 'rejected');
    if (failure) this.settings.onError(asError(failure.reason));
    return results.flatMap((result) => (result.status === 'fulfilled' && result.value ? [result.value] : []));
  }

  /** Wait on the shared blocking fetch (starting one when none runs). */
  private async awaitFetch(remainingMs: number, signal: AbortSignal): Promise<FetchOutcome | WakeReason> {
    this.worker.blockCapSeconds = Math.max(0.01, remainingMs / 1000);
    this.pending ??= this.worker.getNextJob(this.nextToken(), { block: true }).then(
      (job) => this.fetched({ job: job ?? undefined }),
      (error: unknown) => this.fetched({ error }),
    );
    const reason = await this.arrived.wait(remainingMs, signal);
    if (reason === 'aborted') this.consumerStopped = true;
    if (reason !== 'woken') return reason;
    // The first waiter woken takes the job; the others find none and wait again.
    const outcome = this.outcome;
    if ('job' in outcome) this.outcome = { job: undefined };
    return outcome;
  }

  private fetched(outcome: FetchOutcome): void {
    this.pending = undefined;
    if ('job' in outcome && outcome.job && this.arrived.waiting === 0) this.adopt(outcome.job);
    else {
      this.outcome = outcome;
      this.arrived.wake();
    }
  }

  /** A job nobody waits for: kept for half a lock for the next take, or handed back. */
  private adopt(job: Job): void {
    if (this.closed || this.consumerStopped) {
      this.trackGiveBack(job);
      return;
    }
    const keepMs = Math.max(50, Math.floor(this.lockMs / 2));
    this.buffer.push({ job, until: performance.now() + keepMs });
    // A take waiting on the shared fetch looks at the buffer when woken.
    if (this.arrived.waiting > 0) this.arrived.wake();
    // `unref` returns the timer itself.
    if (!this.sweeper) this.sweeper = setTimeout(() => this.sweep(), keepMs).unref();
  }

  /** Hand back buffered jobs nobody took in time; one timer for the whole buffer. */
  private sweep(): void {
    this.sweeper = undefined;
    const now = performance.now();
    while ((this.buffer[0]?.until ?? Number.POSITIVE_INFINITY) <= now)
      this.trackGiveBack((this.buffer.shift() as { job: Job }).job);
    const next = this.buffer[0];
    if (next && !this.closed)
      this.sweeper = setTimeout(() => this.sweep(), Math.max(1, next.until - now)).unref();
  }

  private trackGiveBack(job: Job): void {
    const work = this.handBack(job).finally(() => this.givingBack.delete(work));
    this.givingBack.add(work);
  }

  /**
   * Return a job fetched but never handed to a consumer, undoing the delivery count BullMQ added on fetch
   * (first, while the lock is still ours). If this fails, the lock expires and the stalled check returns it.
   */
  async handBack(job: Job): Promise<void> {
    const token = job.token;
    this.worker.takeLatestTick(job.id);
    if (!token || job.id === undefined) return;
    try {
      await this.settings.connection.hincrby(this.worker.toKey(job.id), 'ats', -1);
      await job.moveToWait(token);
    } catch (error) {
      this.report(error);
    }
  }

  /** Hand back buffered jobs, stop the stalled checker and close the blocking connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const buffered = this.buffer.splice(0, this.buffer.length);
    // No sweep is scheduled once closed (`adopt` hands jobs back then).
    clearTimeout(this.sweeper);
    await Promise.all(buffered.map((entry) => this.handBack(entry.job)));
    this.outcome = { job: undefined };
    this.arrived.wake();
    await this.worker.close(true);
    await this.pending?.catch(() => undefined);
    await Promise.all([...this.givingBack]);
  }

  /**
   * The delivery of a taken job (read as `message`), settled once through the kit. `onSettled` runs when a
   * settlement or replacement ends: the driver then stops treating sends naming it in `copyOf` as copies.
   */
  deliver(job: Job, message: ReceivedMessage, onSettled: () => void): HeldDelivery {
    const token = job.token ?? '';
    const id = String(job.id);
    const expiry = this.worker.lockExpiry.get(job);
    const backend = this.worker.backend;
    let busy: Promise<void> | undefined;
    let replaced: Promise<void> | undefined;
    const settle = (work: () => Promise<unknown>): Promise<void> => {
      const running = work().then(() => undefined);
      busy = running.finally(() => {
        busy = undefined;
        onSettled();
      });
      return busy;
    };
    /** Back to the delayed set for `delayMs`, lock-checked; `attempt`: it counts as a failed attempt. */
    const moveToDelayed = (delayMs: number, attempt: boolean, fieldsToUpdate?: Record<string, unknown>) =>
      backend.moveToDelayed(id, Date.now(), Math.max(0, Math.ceil(delayMs)), token, {
        skipAttempt: !attempt,
        fieldsToUpdate,
      });
    const held = {
      busy: () => busy !== undefined,
      /**
       * The core re-sends a copy of this job while holding it (retry-after, a delay hop): this job takes the
       * copy's options and moves to the delayed set, keeping its id, and the core's `ack` that follows is a
       * no-op. So Bull Board shows one job, never a phantom "completed" original.
       */
      replaceWith: (opts: JobsOptions, delayMs: number) => {
        replaced = settle(() => moveToDelayed(delayMs, false, replacementFields(job, opts)));
        return replaced;
      },
      // Its own properties before the message's: a literal then a spread stays on V8's fast path.
      ...message,
    };
    return createDelivery({
      message: held,
      // Epoch ms for the kit, which keeps it on its own monotonic clock.
      lockedUntil: Date.now() + (expiry === undefined ? this.lockMs : expiry - performance.now()),
      deliveryToken: token,
      provider: 'bullmq',
      classify: this.settings.context.classify,
      scrub: this.settings.context.scrub,
      isClosed: () => this.closed,
      operations: {
        // Replaced in place by the core's copy: that was its settlement.
        ack: (result) => replaced ?? settle(() => this.complete(job, token, result)),
        deadLetter: (info) => settle(() => fail(job, token, backend, info)),
        // A failed attempt counts in BullMQ's `attemptsMade` and keeps its error where Bull Board shows it.
        release: (delayMs, info) => {
          const failed = info?.error !== undefined || info?.stack !== undefined;
          const fields = failed
            ? {
                failedReason: capErrorText(info?.error ?? ''),
                stacktrace: stacktrace(job, info?.stack ?? info?.error),
              }
            : undefined;
          return settle(() => moveToDelayed(delayMs, failed, fields));
        },
        // Not counted: `attemptsStarted` set back by the one this delivery added.
        defer: (delayMs) =>
          settle(() => moveToDelayed(delayMs, false, { ats: Math.max(0, job.attemptsStarted - 1) })),
        // A renewal meeting a kit settlement is the kit's; one meeting the in-place replacement (which the kit
        // does not see) resolves as the replacement does, without a broker call once it started.
        // The new lock end is the kit's: the call's start plus `ms`.
        extendLock: async (ms) => {
          const renewed = replaced ?? (await job.extendLock(token, Math.max(1, Math.ceil(ms))));
          if (replaced) return replaced;
          if (!renewed) throw new LockLostError(`Lock lost on extend-lock of job ${id}`);
        },
        progress: (value) => job.updateProgress(value as Parameters<Job['updateProgress']>[0]),
        // BullMQ keeps the job's `keepLogs` newest lines when it sets it, else all (Bull Board's logs tab).
        log: (line) => job.log(capErrorText(line)).then(() => undefined),
      },
    }) as HeldDelivery;
  }

  /**
   * Complete like `Job.moveToCompleted` (BullMQ's `moveToFinished` script, lock-checked, with `fetchNext`),
   * setting the count restart on the job hash in the same script: BullMQ's public completion takes no fields
   * (its failure does), so the bookkeeping costs no second round trip. A result JSON cannot hold is `null`.
   */
  private async complete(job: Job, token: string, result: unknown): Promise<void> {
    const fetchNext = this.wantsNext;
    const calledAt = performance.now();
    const fields = job.opts.removeOnComplete === true ? undefined : restartFields(job, restartOf(job));
    const backend = this.worker.backend as unknown as {
      moveToFinishedArgs(...args: unknown[]): (string | number | boolean | Buffer)[];
    };
    const args = backend.moveToFinishedArgs(
      job,
      storable(result),
      'returnvalue',
      job.opts.removeOnComplete,
      'completed',
      token,
      Date.now(),
      fetchNext,
      fields,
    );
    const next = await this.worker.backend.moveToFinished(String(job.id), args);
    if (!fetchNext) return;
    const fetched = await this.worker.nextFromCompletion(next, token, calledAt);
    if (fetched) this.adopt(fetched);
  }
}

/** Move the job to BullMQ's failed set with queuekit's record beside `failedReason`, atomically. */
async function fail(job: Job, token: string, backend: Worker['backend'], given: DeadLetterInfo) {
  // Stored in Redis as is: cut as the core cuts the error text of its job records.
  const { stack, ...rest } = given;
  const info = rest.error === undefined ? rest : { ...rest, error: capErrorText(rest.error) };
  const failedReason = info.error ?? info.reason;
  const restart = restartOf(job);
  // Stored as JSON, which leaves out `h` when there is none.
  const record: DeadLetterRecord = { ...info, at: Date.now(), h: restart.removed };
  await backend.moveToFailed(job, failedReason, false, token, false, {
    [DEAD_LETTER_FIELD]: JSON.stringify(record),
    failedReason,
    stacktrace: stacktrace(job, stack ?? info.error),
    ...restartFields(job, restart),
  });
}

/**
 * What restarting a finished job's count takes, so that a job BullMQ tools move back (Bull Board's Retry)
 * starts at attempt 1 and runs when BullMQ hands it out: the attempts counted through `qk-attempt` (moved
 * into STARTED_BEFORE_FIELD), and the stored options without `qk-attempt` and `qk-not-before`.
 */
function restartOf(job: Job): { offset: number; opts?: string; removed?: Record<string, string> } {
  // The common case first, without copying the meta: no attempt past the first, no not-before.
  const raw = (job.opts as { [META_OPTION]?: { h?: Record<string, unknown> } })[META_OPTION]?.h;
  if (raw?.[H.notBefore] === undefined && (raw?.[H.attempt] ?? '1') === '1') return { offset: 0 };
  const meta = readMeta(job.opts);
  if (!meta) return { offset: 0 };
  const { [H.attempt]: attempt, [H.notBefore]: notBefore, ...kept } = meta.h;
  // `qk-attempt: 1` counts from 1 as its absence does: nothing to rewrite (the common case).
  if ((attempt === undefined || attempt === '1') && notBefore === undefined) return { offset: 0 };
  const n = Number(attempt);
  const removed: Record<string, string> = {};
  if (attempt !== undefined) removed[H.attempt] = attempt;
  if (notBefore !== undefined) removed[H.notBefore] = notBefore;
  const opts = JSON.stringify(
    encodeOpts({ ...job.opts, [META_OPTION]: { ...meta, h: kept } } as JobsOptions),
  );
  return { offset: Number.isSafeInteger(n) && n > 1 && n <= 1_000_000 ? n - 1 : 0, opts, removed };
}

function restartFields(job: Job, restart: ReturnType<typeof restartOf>): Record<string, unknown> {
  return {
    [STARTED_BEFORE_FIELD]: job.attemptsStarted + restart.offset,
    ats: 0,
    ...(restart.opts === undefined ? {} : { opts: restart.opts }),
  };
}

/**
 * The job hash's fields once a core copy replaced it: the copy's options (headers, attempt, priority) over
 * the job's, its data's encoding and fan-out record kept (the data stays as stored), and its own creation
 * time (a foreign copy the core re-sent is its own job from now on). The copy arrives as a first delivery.
 */
function replacementFields(job: Job, opts: JobsOptions): Record<string, unknown> {
  const merged: JobsOptions = { ...job.opts, ...opts };
  if (!(opts.delay && opts.delay > 0)) delete merged.delay;
  delete merged.jobId;
  const before = readMeta(job.opts);
  const next = readMeta(opts);
  // Stored as JSON, which leaves out an `e` or `f` the job did not have.
  if (next)
    (merged as Record<string, unknown>)[META_OPTION] = {
      ...next,
      e: before?.e,
      f: before?.f,
      t: job.timestamp,
    };
  const restart = { offset: 0, opts: JSON.stringify(encodeOpts(merged)) };
  return { ...restartFields(job, restart), priority: merged.priority ?? 0 };
}

/** The job's stack traces (JSON) with `entry` (a stack, else the error text) appended, the oldest dropped. */
function stacktrace(job: Job, entry: string | undefined): string {
  const kept = [...(job.stacktrace ?? [])];
  if (entry !== undefined) kept.push(capErrorText(entry));
  const limit = job.opts.stackTraceLimit ?? STACK_TRACES_KEPT;
  return JSON.stringify(limit > 0 ? kept.slice(-limit) : kept);
}

/** The handler's result as BullMQ stores it (JSON text); `null` when JSON cannot represent it. */
function storable(result: unknown): string {
  try {
    // Gives undefined for `undefined` (and for what JSON cannot hold, a function).
    return JSON.stringify(result) ?? 'null';
  } catch {
    return 'null';
  }
}
