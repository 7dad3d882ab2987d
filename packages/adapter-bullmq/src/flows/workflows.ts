import {
  ConfigError,
  CORE_HEADERS as H,
  errorMessage,
  type JobState,
  type NativeJobStatus,
  type NativeScheduleInfo,
  type NativeScheduleSpec,
  type NativeWorkflows,
  type OutgoingMessage,
  type RateLimit,
} from '@queuekit/core';
import { intHeader } from '@queuekit/core/driver-kit';
import { Job, type RepeatOptions } from 'bullmq';
import { classifyError } from '../errors.js';
import {
  bullJobId,
  DEAD_LETTER_FIELD,
  fromBullJob,
  indexKey,
  legacyBullJobId,
  META_OPTION,
  parseDeadLetterRecord,
  type QueuekitJobMeta,
  readMeta,
  STARTED_BEFORE_FIELD,
  schedulerTick,
  toBullJob,
} from '../wire.js';
import type { DriverHost } from '../admin.js';
import { decodeLenient } from '../options.js';
import type { FanOutFlows } from './fan-out.js';

/** Hash (per queue) of the last tick run by each job scheduler: field = scheduler id, value = epoch ms. */
const LAST_RUN_KEY = 'qk:sched:last';

/** Keep the later of the stored tick and the given one (runs may be delivered out of order). */
const KEEP_LATEST_TICK = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (not current) or tonumber(current) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1`;

/** BullMQ job scheduler id of a schedule name (`:` is escaped: BullMQ reads colons in run ids). */
export function schedulerId(name: string): string {
  return encodeURIComponent(name);
}

/**
 * queuekit's native workflow features on BullMQ (see the README): schedules on BullMQ job schedulers (one
 * delayed job per tick, `repeat:<name>:<tick>`, so a tick never runs twice), the rate limit on BullMQ's
 * worker limiter, fan-out on flows, and job records from the BullMQ job itself.
 */
export class BullmqWorkflows implements NativeWorkflows {
  readonly schedules: NonNullable<NativeWorkflows['schedules']>;
  readonly jobs: NativeWorkflows['jobs'];

  constructor(
    private readonly host: DriverHost,
    private readonly fanOuts: FanOutFlows,
    nativeJobs: boolean,
  ) {
    this.schedules = {
      upsert: (queue, name, spec, template) => this.upsertSchedule(queue, name, spec, template),
      remove: (queue, name) => this.removeSchedule(queue, name),
      list: (queue) => this.listSchedules(queue),
    };
    this.jobs = nativeJobs ? { get: (queue, id) => this.getJob(queue, id) } : undefined;
  }

  fanOut(
    queue: string,
    chunks: readonly OutgoingMessage[],
    reduce: { readonly queue: string; readonly message: OutgoingMessage },
  ): Promise<void> {
    return this.host.run('fan-out', () => this.fanOuts.fanOut(queue, chunks, reduce));
  }

  setRateLimit(queue: string, limit: RateLimit): Promise<void> {
    return this.host.run('set-rate-limit', async () => {
      for (const field of ['max', 'duration'] as const)
        if (!Number.isInteger(limit[field]) || limit[field] < 1)
          throw new ConfigError(`rateLimit.${field}`, 'must be an integer ≥ 1');
      this.host.applyRateLimit(queue, { max: limit.max, duration: limit.duration });
    });
  }

  private upsertSchedule(queue: string, name: string, spec: NativeScheduleSpec, template: OutgoingMessage) {
    return this.host.run('schedule', async () => {
      const job = toBullJob(template, this.host.jobSettings, { jobId: undefined });
      const { jobId: _jobId, delay: _delay, ...opts } = job.opts;
      // Every run gets its own id (`repeat:<name>:<tick>`), which is also its queuekit id.
      const { id: _id, ...meta } = readMeta(opts) as QueuekitJobMeta;
      let repeat: Omit<RepeatOptions, 'key'>;
      if (spec.cron !== undefined) repeat = { pattern: spec.cron, tz: spec.tz ?? 'UTC' };
      else if (spec.every !== undefined) repeat = { every: spec.every, startDate: Date.now() + spec.every };
      else throw new ConfigError('schedule', 'give exactly one of `cron` and `every`');
      const upserting = this.host.queue(queue).upsertJobScheduler(schedulerId(name), repeat, {
        name: job.name,
        data: job.data,
        opts: { ...opts, [META_OPTION]: meta } as typeof opts,
      });
      // A pattern cron-parser refuses fails here, not in the core's validation (croner).
      await upserting.catch((error: unknown) => {
        if (spec.cron === undefined || classifyError(error, 'schedule') !== undefined) throw error;
        throw new ConfigError('schedule.cron', errorMessage(error));
      });
    });
  }

  private removeSchedule(queue: string, name: string): Promise<boolean> {
    return this.host.run('remove-schedule', async () => {
      const target = this.host.queue(queue);
      const removed = await target.removeJobScheduler(schedulerId(name));
      await this.host.connection.hdel(target.toKey(LAST_RUN_KEY), schedulerId(name));
      return removed;
    });
  }

  private listSchedules(queue: string): Promise<NativeScheduleInfo[]> {
    return this.host.run('list-schedules', async () => {
      const target = this.host.queue(queue);
      const [schedulers, lastRuns] = await Promise.all([
        target.getJobSchedulers(0, -1, true),
        this.host.connection.hgetall(target.toKey(LAST_RUN_KEY)),
      ]);
      return schedulers.map((scheduler) => {
        const lastRun = Number(lastRuns[scheduler.key]);
        const { template: stored } = scheduler;
        const template = stored
          ? fromBullJob({
              id: scheduler.key,
              name: scheduler.name,
              data: stored.data,
              opts: stored.opts ?? {},
              attemptsStarted: 0,
              attemptsMade: 0,
              timestamp: Date.now(),
            })
          : undefined;
        return {
          name: decodeLenient(scheduler.key),
          ...(scheduler.pattern ? { cron: scheduler.pattern } : {}),
          ...(scheduler.every ? { every: Number(scheduler.every) } : {}),
          ...(scheduler.pattern && scheduler.tz ? { tz: scheduler.tz } : {}),
          ...(scheduler.next ? { nextRunAt: new Date(scheduler.next) } : {}),
          ...(Number.isFinite(lastRun) && lastRun > 0 ? { lastRunAt: new Date(lastRun) } : {}),
          ...(template ? { template } : {}),
        };
      });
    });
  }

  /**
   * Scheduler runs not to deliver: the first delivery of a run of tick T when a later run of the same
   * scheduler is already due. That happens when a run was taken (BullMQ then schedules the next one) and
   * handed back unprocessed, and no consumer came before the next tick: missed ticks coalesce into one
   * run, as with the core's schedules. A later run is known from the scheduler's latest tick read just
   * before the fetch, or from the same batch. Retries and redeliveries of a started run are never skipped.
   */
  staleRuns(jobs: readonly Job[], latestTickBefore: (job: Job) => number | undefined): Set<Job> {
    const now = Date.now();
    const runs = jobs.flatMap((job) => {
      const tick = schedulerTick(job);
      return tick === undefined || !job.repeatJobKey ? [] : [{ job, tick, key: job.repeatJobKey }];
    });
    // The latest due tick of each scheduler in the batch.
    const due = new Map<string, number>();
    for (const { tick, key } of runs) if (tick <= now) due.set(key, Math.max(tick, due.get(key) ?? 0));
    const stale = new Set<Job>();
    for (const { job, tick, key } of runs) {
      if (job.attemptsStarted > 1 || !readMeta(job.opts)) continue;
      const before = latestTickBefore(job);
      if ((before !== undefined && before > tick && before <= now) || (due.get(key) ?? 0) > tick)
        stale.add(job);
    }
    return stale;
  }

  /** Remember the ticks of scheduler runs being delivered, for `lastRunAt`. */
  async noteRuns(queue: string, jobs: readonly Job[]): Promise<void> {
    const key = this.host.queue(queue).toKey(LAST_RUN_KEY);
    await Promise.all(
      jobs.map((job) => {
        const tick = schedulerTick(job);
        if (tick === undefined || !job.repeatJobKey) return undefined;
        return this.host.connection
          .eval(KEEP_LATEST_TICK, 1, key, job.repeatJobKey, String(tick))
          .catch(() => undefined);
      }),
    );
  }

  /**
   * The latest BullMQ job of a queuekit id: the one the index points to (copies, non-UUID ids), else the
   * job whose BullMQ id is the queuekit id (escaped when BullMQ refuses it as is).
   */
  private getJob(queue: string, id: string): Promise<NativeJobStatus | undefined> {
    return this.host.run('get-job', async () => {
      const target = this.host.queue(queue);
      const connection = this.host.connection;
      const indexed = await connection.get(indexKey(target.toKey(''), id));
      for (const bullId of indexed ? [indexed] : new Set([bullJobId(id), legacyBullJobId(id), id])) {
        const [job, state, fields] = await Promise.all([
          Job.fromId(target, bullId),
          target.getJobState(bullId),
          connection.hmget(target.toKey(bullId), 'progress', DEAD_LETTER_FIELD, STARTED_BEFORE_FIELD),
        ]);
        if (!job || fromBullJob(job).id !== id) continue;
        const jobState = toJobState(state, job);
        if (jobState) return toJobStatus(job, jobState, fields);
      }
      return undefined;
    });
  }
}

/** A delayed job is `retrying` when it started once (a core retry released it) or is a core copy (retry-after). */
function toJobState(state: string, job: Job): JobState | undefined {
  if (state === 'waiting' || state === 'prioritized' || state === 'waiting-children') return 'waiting';
  if (state === 'delayed')
    return job.attemptsStarted > 0 || readMeta(job.opts)?.c === 1 ? 'retrying' : 'delayed';
  return state === 'active' || state === 'completed' || state === 'failed' ? state : undefined;
}

/**
 * The job record `getJob` answers from BullMQ's job data: the return value as `result`, `progress` once
 * reported, the attempts counted as the core counts them (`qk-attempt` + deliveries − 1), and queuekit's
 * dead-letter record for failed jobs. `fields`: the job hash's `progress`, dead-letter record and count before.
 */
function toJobStatus(job: Job, state: JobState, fields: (string | null)[]): NativeJobStatus {
  const [progress, deadLetter, startedBefore] = fields;
  const view = fromBullJob(job);
  const baseAttempt = Math.max(1, intHeader(view.headers, H.attempt, 1));
  // A finished job's count was moved aside (see STARTED_BEFORE_FIELD) until BullMQ tools move it back.
  const finished = state === 'completed' || state === 'failed';
  // Absent: NaN, so the job's own count stands (an empty field reads 0, which is that count too).
  const before = Number(startedBefore ?? Number.NaN);
  const startedNow = finished && job.attemptsStarted === 0 && before >= 0 ? before : job.attemptsStarted;
  const meta = readMeta(job.opts);
  const started = meta ? startedNow : Math.max(startedNow, job.attemptsMade);
  // A copy not started yet (retry-after) reports the attempt that made it; the core numbers its next run.
  const counted = started === 0 && meta?.c === 1 ? Math.max(1, baseAttempt - 1) : baseAttempt - 1 + started;
  const maxAttempts = intHeader(view.headers, H.maxAttempts, -1);
  const record = parseDeadLetterRecord(deadLetter);
  const error = state === 'failed' ? (record?.error ?? (job.failedReason || undefined)) : undefined;
  const result = state === 'completed' && job.returnvalue !== null ? job.returnvalue : undefined;
  return {
    name: job.name,
    state,
    attempts: state === 'failed' ? (record?.attempts ?? counted) : counted,
    ...(maxAttempts < 0 ? {} : { maxAttempts }),
    ...(progress !== null && progress !== undefined ? { progress: job.progress } : {}),
    ...(result === undefined ? {} : { result }),
    ...(error === undefined ? {} : { error }),
    ...(state === 'failed' ? { reason: record?.reason ?? 'failed' } : {}),
    createdAt: new Date(intHeader(view.headers, H.enqueuedAt, job.timestamp)),
    ...(job.processedOn ? { startedAt: new Date(job.processedOn) } : {}),
    ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn) } : {}),
  };
}
