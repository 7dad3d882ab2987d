import {
  CORE_HEADERS,
  capErrorText,
  type DeadLetterInfo,
  type Delivery,
  LockLostError,
  QueueClosedError,
  type ReceivedMessage,
  type ReleaseInfo,
} from '@queuekit/core';
import { type Job, type JobsOptions, optsEncodeMap } from 'bullmq';
import { completeJob } from './completion.js';
import { toQueuekitError } from './errors.js';
import { DEAD_LETTER_FIELD, type DeadLetterRecord, STARTED_BEFORE_FIELD } from './job-mapping.js';
import { META_OPTION, readMeta } from './payload.js';
import type { QueueReceiver } from './receiver.js';

/** Stack traces kept on a job (BullMQ's `stacktrace`, shown by Bull Board), unless the job sets `stackTraceLimit`. */
const STACK_TRACES_KEPT = 10;

/** A BullMQ job taken under lock, with the settle operations of the `Delivery` contract. */
export class BullDelivery implements Delivery {
  readonly id: string;
  readonly name?: string;
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  readonly deliveryCount: number;
  readonly enqueuedAt?: Date;
  readonly priority?: number;
  /** The BullMQ `Job`. */
  readonly raw: Job;
  /** This delivery's BullMQ lock token, which the core names in `OutgoingMessage.copyOf`. */
  readonly deliveryToken: string;
  private readonly token: string;
  #lockedUntil: number | undefined;

  /**
   * @param onSettled called once the delivery is settled (or its settle failed): the driver stops
   *   treating sends that name this delivery in `copyOf` as copies of a held job.
   */
  constructor(
    view: ReceivedMessage,
    private readonly job: Job,
    private readonly receiver: QueueReceiver,
    private onSettled: () => void = () => undefined,
  ) {
    this.id = view.id;
    if (view.name !== undefined) this.name = view.name;
    this.body = view.body;
    this.headers = view.headers;
    this.deliveryCount = view.deliveryCount;
    if (view.enqueuedAt !== undefined) this.enqueuedAt = view.enqueuedAt;
    if (view.priority !== undefined) this.priority = view.priority;
    this.raw = job;
    this.token = job.token ?? '';
    this.deliveryToken = this.token;
    this.#lockedUntil = receiver.worker.lockedUntil(job);
  }

  /**
   * When the lock runs out (epoch ms): counted from just before the call that took it (the job may
   * have waited in the receiver's buffer since) or from the last `extendLock`.
   */
  get lockedUntil(): number | undefined {
    return this.#lockedUntil;
  }

  private settled(): void {
    const done = this.onSettled;
    this.onSettled = () => undefined;
    done();
  }

  /**
   * Complete the job with `result` as BullMQ's return value (kept for `getJob` as long as completed
   * jobs are kept; a value JSON cannot represent is stored as `null`). BullMQ locks the next job in
   * the same call for this consumer's next receive.
   */
  ack(result?: unknown): Promise<void> {
    // Replaced in place by the core's copy (see `replaceWith`): that was its settlement.
    if (this.#replaced) return this.#replaced;
    return this.#settle(() => this.#complete(result));
  }

  async #complete(result: unknown): Promise<void> {
    let next: unknown;
    const fetchNext = this.receiver.wantsNext;
    const calledAt = Date.now();
    try {
      next = await completeJob(
        this.receiver.worker.backend,
        this.job,
        storableResult(result),
        this.token,
        fetchNext,
        this.#restartFields(),
      );
    } catch (error) {
      this.settled();
      throw toQueuekitError(error, 'ack', this.id);
    }
    this.settled();
    if (fetchNext) await this.receiver.keepNext(next, this.token, calledAt);
  }

  /**
   * A completed job kept by BullMQ: its delivery count restarts (in the completion's own script), so
   * that Bull Board's "Retry" of a completed job runs it with a full attempt budget.
   */
  #restartFields(): Record<string, unknown> | undefined {
    if (this.job.opts.removeOnComplete === true) return undefined;
    const restart = this.#restart();
    return {
      [STARTED_BEFORE_FIELD]: this.job.attemptsStarted + restart.offset,
      ats: 0,
      ...(restart.opts === undefined ? {} : { opts: restart.opts }),
    };
  }

  /** Record the handler's progress on the job (BullMQ `updateProgress`). */
  async progress(value: unknown): Promise<void> {
    try {
      await this.job.updateProgress(value as Parameters<Job['updateProgress']>[0]);
    } catch (error) {
      throw toQueuekitError(error, 'progress', this.id);
    }
  }

  /**
   * Append a line to the job's log (BullMQ `job.log`, Bull Board's logs tab), cut like error text.
   * BullMQ keeps the job's `keepLogs` newest lines when the job sets it, else all of them.
   */
  async log(line: string): Promise<void> {
    try {
      await this.job.log(capErrorText(line));
    } catch (error) {
      throw toQueuekitError(error, 'log', this.id);
    }
  }

  /** Move the job to BullMQ's failed set, with queuekit's record beside `failedReason`, atomically. */
  deadLetter(info: DeadLetterInfo): Promise<void> {
    return this.#settle(() => this.#fail(info));
  }

  async #fail(given: DeadLetterInfo): Promise<void> {
    // Stored in Redis as is: cut as the core cuts the error text of its job records.
    const { stack, ...rest } = given;
    const info = rest.error === undefined ? rest : { ...rest, error: capErrorText(rest.error) };
    const failedReason = info.error ?? info.reason;
    const restart = this.#restart();
    // The headers the restart takes off the stored options, so that the dead letter lists as sent.
    const record: DeadLetterRecord = {
      ...info,
      at: Date.now(),
      ...(restart.removed === undefined ? {} : { h: restart.removed }),
    };
    try {
      await this.receiver.worker.backend.moveToFailed(this.job, failedReason, false, this.token, false, {
        [DEAD_LETTER_FIELD]: JSON.stringify(record),
        failedReason,
        stacktrace: JSON.stringify(this.#stacktrace(stack ?? info.error)),
        // The count restarts: a dead letter retried from Bull Board gets a full attempt budget.
        [STARTED_BEFORE_FIELD]: this.job.attemptsStarted + restart.offset,
        ats: 0,
        ...(restart.opts === undefined ? {} : { opts: restart.opts }),
      });
    } catch (error) {
      throw toQueuekitError(error, 'dead-letter', this.id);
    } finally {
      this.settled();
    }
  }

  /**
   * Back to the queue after `delayMs` (BullMQ `moveToDelayed`); the next delivery counts one more.
   * A release for a failed attempt (`info`) counts in BullMQ's `attemptsMade` and keeps the error
   * as `failedReason` and its stack in `stacktrace`, where Bull Board shows them.
   */
  release(delayMs: number, info?: ReleaseInfo): Promise<void> {
    return this.#settle(() => this.#delay(delayMs, info));
  }

  async #delay(delayMs: number, info: ReleaseInfo | undefined): Promise<void> {
    const failed = info?.error !== undefined || info?.stack !== undefined;
    const fieldsToUpdate = failed
      ? {
          failedReason: capErrorText(info?.error ?? ''),
          stacktrace: JSON.stringify(this.#stacktrace(info?.stack ?? info?.error)),
        }
      : undefined;
    try {
      await this.receiver.worker.backend.moveToDelayed(
        String(this.job.id),
        Date.now(),
        Math.max(0, Math.ceil(delayMs)),
        this.token,
        { skipAttempt: !failed, ...(fieldsToUpdate ? { fieldsToUpdate } : {}) },
      );
    } catch (error) {
      throw toQueuekitError(error, 'release', this.id);
    } finally {
      this.settled();
    }
  }

  /**
   * Hide the job for `delayMs` without counting a delivery (the core's "arrived early", a delay hop):
   * BullMQ `moveToDelayed`, lock-checked, with its `attemptsStarted` set back by the one this delivery
   * added, so that the next delivery reports the same `deliveryCount`. Headers and body stay as stored.
   */
  defer(delayMs: number): Promise<void> {
    return this.#settle(() => this.#defer(delayMs));
  }

  async #defer(delayMs: number): Promise<void> {
    try {
      await this.receiver.worker.backend.moveToDelayed(
        String(this.job.id),
        Date.now(),
        Math.max(0, Math.ceil(delayMs)),
        this.token,
        { skipAttempt: true, fieldsToUpdate: { ats: Math.max(0, this.job.attemptsStarted - 1) } },
      );
    } catch (error) {
      throw toQueuekitError(error, 'defer', this.id);
    } finally {
      this.settled();
    }
  }

  /**
   * What restarting the job's count takes: the attempts the core counted before this delivery
   * through `qk-attempt` (moved into STARTED_BEFORE_FIELD), and the stored options without
   * `qk-attempt` and `qk-not-before` when it has them, so that a job BullMQ tools move back starts
   * at attempt 1 and runs when BullMQ hands it out.
   */
  #restart(): { offset: number; opts?: string; removed?: Record<string, string> } {
    const meta = readMeta(this.job.opts);
    if (!meta) return { offset: 0 };
    const { [CORE_HEADERS.attempt]: attempt, [CORE_HEADERS.notBefore]: notBefore, ...kept } = meta.h;
    // `qk-attempt: 1` counts from 1 as its absence does: nothing to rewrite (the common case).
    if ((attempt === undefined || attempt === '1') && notBefore === undefined) return { offset: 0 };
    const n = Number(attempt);
    const offset = Number.isSafeInteger(n) && n > 1 && n <= 1_000_000 ? n - 1 : 0;
    const opts = { ...this.job.opts, [META_OPTION]: { ...meta, h: kept } };
    const removed: Record<string, string> = {};
    if (attempt !== undefined) removed[CORE_HEADERS.attempt] = attempt;
    if (notBefore !== undefined) removed[CORE_HEADERS.notBefore] = notBefore;
    return { offset, opts: JSON.stringify(encodeOpts(opts)), removed };
  }

  /** The job's stack traces with `entry` (a stack, else the error text) appended, the oldest dropped. */
  #stacktrace(entry: string | undefined): string[] {
    const kept = [...(this.job.stacktrace ?? [])];
    if (entry !== undefined) kept.push(capErrorText(entry));
    const limit = this.job.opts.stackTraceLimit ?? STACK_TRACES_KEPT;
    return limit > 0 ? kept.slice(-limit) : kept;
  }

  /** A settle call (or an in-place replacement) has started. */
  get settling(): boolean {
    return this.#settling !== undefined;
  }

  /** Set once the core's copy replaced this job in place. */
  #replaced: Promise<void> | undefined;

  /**
   * The core re-sends a copy of this job while holding it (retry-after, a delay hop): instead of a
   * second BullMQ job, this one takes the copy's options (headers, attempt, priority) and moves to
   * BullMQ's delayed set for `delayMs`, keeping its id; the core's `ack` that follows is then a
   * no-op. So Bull Board shows one job, never a phantom "completed" original. The copy arrives as a
   * first delivery (BullMQ's count restarts), as a copy would.
   */
  replaceWith(opts: JobsOptions, delayMs: number): Promise<void> {
    const replacing = this.#settle(() => this.#replace(opts, delayMs));
    this.#replaced = replacing;
    return replacing;
  }

  async #replace(opts: JobsOptions, delayMs: number): Promise<void> {
    const merged: JobsOptions = { ...this.job.opts, ...opts };
    if (!(opts.delay && opts.delay > 0)) delete merged.delay;
    // Stored without its BullMQ id, as `StoredJob` stores a job (see `send-queue.ts`).
    delete merged.jobId;
    // The job's data stays as stored: so do its encoding and, on a fan-out's reduce job, the record
    // its results are read from at the next delivery (the copy's body is only those results).
    const before = readMeta(this.job.opts);
    const next = readMeta(opts);
    if (next) {
      const { e: _e, f: _f, ...rest } = next;
      (merged as Record<string, unknown>)[META_OPTION] = {
        ...rest,
        ...(before?.e === undefined ? {} : { e: before.e }),
        ...(before?.f === undefined ? {} : { f: before.f }),
        // This job's own creation time: a foreign copy the core re-sent is its own job from now on.
        t: this.job.timestamp,
      };
    }
    try {
      await this.receiver.worker.backend.moveToDelayed(
        String(this.job.id),
        Date.now(),
        Math.max(0, Math.ceil(delayMs)),
        this.token,
        {
          skipAttempt: true,
          fieldsToUpdate: {
            opts: JSON.stringify(encodeOpts(merged)),
            priority: merged.priority ?? 0,
            [STARTED_BEFORE_FIELD]: this.job.attemptsStarted,
            ats: 0,
          },
        },
      );
    } catch (error) {
      throw toQueuekitError(error, 'send', this.id);
    } finally {
      this.settled();
    }
  }

  /** The first settle call in progress or done (ack, deadLetter, release). */
  #settling: Promise<void> | undefined;

  /** Set once the first settle call has finished (resolved or rejected). */
  #settled = false;

  #settle(run: () => Promise<void>): Promise<void> {
    const settling = this.receiver.isClosed ? Promise.reject(this.#closedError()) : run();
    if (!this.#settling) {
      this.#settling = settling;
      settling.then(
        () => this.#markSettled(),
        () => this.#markSettled(),
      );
    }
    return settling;
  }

  #markSettled(): void {
    this.#settled = true;
  }

  #closedError(): QueueClosedError {
    this.settled();
    return new QueueClosedError(`The BullMQ driver is closed: job ${this.id} can no longer be settled`);
  }

  /**
   * Keep the lock for `ms` more from now. A renewal that meets a settlement in progress (the job is
   * being completed, failed or delayed, so BullMQ is releasing its lock) waits for it instead: it
   * resolves when the settlement did, and fails as the settlement failed. Once a settlement has
   * finished, a renewal rejects with `LockLostError` (the lock is gone).
   */
  async extendLock(ms: number): Promise<void> {
    if (this.#settled)
      throw new LockLostError(`Lock released on extend-lock of job ${this.id}: it is settled`);
    if (this.#settling) return this.#settling;
    if (this.receiver.isClosed)
      throw new QueueClosedError(`The BullMQ driver is closed (extend-lock of job ${this.id})`);
    let extended: unknown;
    const duration = Math.max(1, Math.ceil(ms));
    const calledAt = Date.now();
    try {
      extended = await this.job.extendLock(this.token, duration);
    } catch (error) {
      if (this.#settling) return this.#settling;
      throw toQueuekitError(error, 'extend-lock', this.id);
    }
    if (!extended) {
      if (this.#settling) return this.#settling;
      throw new LockLostError(`Lock lost on extend-lock of job ${this.id}`);
    }
    this.#lockedUntil = calledAt + duration;
  }
}

/** Job options as BullMQ stores them in the job hash (its short names for some keys). */
function encodeOpts(opts: JobsOptions): Record<string, unknown> {
  const encode = optsEncodeMap as Record<string, string>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(opts)) {
    if (value === undefined) continue;
    if (key === 'telemetry') {
      const telemetry = value as NonNullable<JobsOptions['telemetry']>;
      if (telemetry.metadata !== undefined) out.tm = telemetry.metadata;
      if (telemetry.omitContext !== undefined) out.omc = telemetry.omitContext;
      continue;
    }
    out[encode[key] ?? key] = value;
  }
  return out;
}

/** The handler's result as BullMQ stores it (JSON); `null` when JSON cannot represent it. */
function storableResult(result: unknown): unknown {
  if (result === undefined) return null;
  try {
    return JSON.stringify(result) === undefined ? null : result;
  } catch {
    return null;
  }
}
