import {
  ConfigError,
  type NativeJobStatus,
  type NativeScheduleInfo,
  type NativeScheduleSpec,
  type NativeWorkflows,
  type OutgoingMessage,
} from '@queuekit/core';
import { Job, type JobSchedulerJson, type Queue, type RepeatOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { toQueuekitError } from './errors.js';
import type { FanOutFlows } from './fanout.js';
import {
  bullJobId,
  legacyBullJobId,
  DEAD_LETTER_FIELD,
  STARTED_BEFORE_FIELD,
  fromBullJob,
  type JobSettings,
  parseDeadLetterRecord,
  schedulerTick,
  toBullJob,
} from './job-mapping.js';
import { type BullJobState, toJobState, toJobStatus } from './job-status.js';
import { META_OPTION, type QueuekitJobMeta, readMeta } from './payload.js';
import { indexKey } from './placement.js';

/** What the workflow features need from the driver. */
export interface WorkflowHost {
  /** The shared producer connection. */
  readonly connection: Redis;
  readonly jobSettings: JobSettings;
  /** The BullMQ `Queue` of a queue name (created on first use). */
  queue(name: string): Queue;
  /** Apply a rate limit to the consumers of `queue` in this process (now and when they start). */
  applyRateLimit(queue: string, limit: { readonly max: number; readonly duration: number }): void;
  /** Fan-outs on BullMQ flows. */
  readonly fanOuts: FanOutFlows;
  /** Throws QueueClosedError once the driver is closed. */
  ensureOpen(): void;
}

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

function scheduleName(id: string): string {
  try {
    return decodeURIComponent(id);
  } catch {
    return id;
  }
}

/**
 * queuekit's native workflow features on BullMQ:
 *
 * - `schedules`: BullMQ job schedulers (`upsertJobScheduler`), one delayed job per tick with the id
 *   `repeat:<name>:<tick>`, so a tick never runs twice, whatever the number of consumers. BullMQ
 *   creates the next run when a consumer takes the current one, and skips ticks missed while no
 *   consumer ran (one catch-up run).
 * - `setRateLimit`: BullMQ's worker limiter, counted in one Redis key per queue for every consumer.
 * - `fanOut`: BullMQ flows (the reduce job is the parent of the chunk jobs).
 * - `jobs`: state, progress, result and timestamps from the BullMQ job itself.
 */
export class BullmqWorkflows implements NativeWorkflows {
  readonly schedules: NonNullable<NativeWorkflows['schedules']>;
  readonly jobs: NativeWorkflows['jobs'];

  constructor(
    private readonly host: WorkflowHost,
    nativeJobs: boolean,
  ) {
    this.schedules = {
      upsert: (queue, name, spec, template) => this.upsertSchedule(queue, name, spec, template),
      remove: (queue, name) => this.removeSchedule(queue, name),
      list: (queue) => this.listSchedules(queue),
    };
    this.jobs = nativeJobs ? { get: (queue, id) => this.getJob(queue, id) } : undefined;
  }

  /**
   * Fan-out on a BullMQ flow: the reduce job is the parent of the chunk jobs and is delivered once
   * every chunk has completed or dead-lettered, its body replaced by the chunks' results and failures
   * (see {@link FanOutFlows}).
   */
  async fanOut(
    queue: string,
    chunks: readonly OutgoingMessage[],
    reduce: { readonly queue: string; readonly message: OutgoingMessage },
  ): Promise<void> {
    this.host.ensureOpen();
    try {
      await this.host.fanOuts.fanOut(queue, chunks, reduce);
    } catch (error) {
      throw toQueuekitError(error, 'fan-out');
    }
  }

  async setRateLimit(
    queue: string,
    limit: { readonly max: number; readonly duration: number },
  ): Promise<void> {
    this.host.ensureOpen();
    for (const [field, value] of [
      ['rateLimit.max', limit.max],
      ['rateLimit.duration', limit.duration],
    ] as const) {
      if (!Number.isInteger(value) || value < 1) throw new ConfigError(field, 'must be an integer ≥ 1');
    }
    this.host.applyRateLimit(queue, { max: limit.max, duration: limit.duration });
  }

  private async upsertSchedule(
    queue: string,
    name: string,
    spec: NativeScheduleSpec,
    template: OutgoingMessage,
  ): Promise<void> {
    this.host.ensureOpen();
    const job = toBullJob(template, this.host.jobSettings, { jobId: undefined });
    const { jobId: _jobId, delay: _delay, ...opts } = job.opts;
    // Every run gets its own id (`repeat:<name>:<tick>`), which is also its queuekit id.
    const { id: _id, ...meta } = readMeta(opts) as QueuekitJobMeta;
    let repeat: Omit<RepeatOptions, 'key'>;
    if (spec.cron !== undefined) repeat = { pattern: spec.cron, tz: spec.tz ?? 'UTC' };
    else if (spec.every !== undefined) repeat = { every: spec.every, startDate: Date.now() + spec.every };
    else throw new ConfigError('schedule', 'give exactly one of `cron` and `every`');
    try {
      await this.host.queue(queue).upsertJobScheduler(schedulerId(name), repeat, {
        name: job.name,
        data: job.data,
        opts: { ...opts, [META_OPTION]: meta } as typeof opts,
      });
    } catch (error) {
      const mapped = toQueuekitError(error, 'schedule');
      if (mapped !== error || spec.cron === undefined) throw mapped;
      throw new ConfigError('schedule.cron', mapped.message);
    }
  }

  private async removeSchedule(queue: string, name: string): Promise<boolean> {
    this.host.ensureOpen();
    const target = this.host.queue(queue);
    try {
      const removed = await target.removeJobScheduler(schedulerId(name));
      await this.host.connection.hdel(target.toKey(LAST_RUN_KEY), schedulerId(name));
      return removed;
    } catch (error) {
      throw toQueuekitError(error, 'remove-schedule');
    }
  }

  private async listSchedules(queue: string): Promise<NativeScheduleInfo[]> {
    this.host.ensureOpen();
    const target = this.host.queue(queue);
    let schedulers: JobSchedulerJson[];
    let lastRuns: Record<string, string>;
    try {
      [schedulers, lastRuns] = await Promise.all([
        target.getJobSchedulers(0, -1, true),
        this.host.connection.hgetall(target.toKey(LAST_RUN_KEY)),
      ]);
    } catch (error) {
      throw toQueuekitError(error, 'list-schedules');
    }
    return schedulers.map((scheduler) => {
      const lastRun = Number(lastRuns[scheduler.key]);
      const template = scheduler.template
        ? fromBullJob({
            id: scheduler.key,
            name: scheduler.name,
            data: scheduler.template.data,
            opts: scheduler.template.opts ?? {},
            attemptsStarted: 0,
            attemptsMade: 0,
            timestamp: Date.now(),
            repeatJobKey: undefined,
          })
        : undefined;
      return {
        name: scheduleName(scheduler.key),
        ...(scheduler.pattern ? { cron: scheduler.pattern } : {}),
        ...(scheduler.every ? { every: Number(scheduler.every) } : {}),
        ...(scheduler.pattern && scheduler.tz ? { tz: scheduler.tz } : {}),
        ...(scheduler.next ? { nextRunAt: new Date(scheduler.next) } : {}),
        ...(Number.isFinite(lastRun) && lastRun > 0 ? { lastRunAt: new Date(lastRun) } : {}),
        ...(template ? { template } : {}),
      };
    });
  }

  /**
   * Scheduler runs not to deliver: the first delivery of a run of tick T when a later run of the
   * same scheduler is already due. That happens when a run was taken (BullMQ then schedules the next
   * one) and handed back unprocessed, and no consumer came before the next tick: missed ticks
   * coalesce into one run, the latest, as they do with the core's own schedules. A later run is
   * known from the scheduler's latest tick read just before the fetch (`latestTickBefore`) or from
   * the same batch. Retries and redeliveries of a run that started are never skipped.
   */
  staleRuns(jobs: readonly Job[], latestTickBefore: (job: Job) => number | undefined): Set<Job> {
    const now = Date.now();
    const dueByScheduler = new Map<string, number>();
    for (const job of jobs) {
      const tick = schedulerTick(job);
      if (tick === undefined || !job.repeatJobKey || tick > now) continue;
      dueByScheduler.set(job.repeatJobKey, Math.max(tick, dueByScheduler.get(job.repeatJobKey) ?? 0));
    }
    const stale = new Set<Job>();
    for (const job of jobs) {
      const tick = schedulerTick(job);
      if (tick === undefined || !job.repeatJobKey || job.attemptsStarted > 1 || !readMeta(job.opts)) continue;
      const before = latestTickBefore(job);
      const laterDue =
        (before !== undefined && before > tick && before <= now) ||
        (dueByScheduler.get(job.repeatJobKey) ?? 0) > tick;
      if (laterDue) stale.add(job);
    }
    return stale;
  }

  /** Remember the ticks of scheduler runs being delivered, for `lastRunAt`. */
  async noteRuns(queue: string, jobs: readonly Job[]): Promise<void> {
    const target = this.host.queue(queue);
    await Promise.all(
      jobs.map((job) => {
        const tick = schedulerTick(job);
        if (tick === undefined || !job.repeatJobKey) return undefined;
        return this.host.connection
          .eval(KEEP_LATEST_TICK, 1, target.toKey(LAST_RUN_KEY), job.repeatJobKey, String(tick))
          .catch(() => undefined);
      }),
    );
  }

  /**
   * The latest BullMQ job of a queuekit id: the one the index points to (copies, non-UUID ids),
   * else the job whose BullMQ id is the queuekit id (escaped when BullMQ refuses it as is).
   */
  private async getJob(queue: string, id: string): Promise<NativeJobStatus | undefined> {
    this.host.ensureOpen();
    const target = this.host.queue(queue);
    const connection = this.host.connection;
    try {
      const indexed = await connection.get(indexKey(target.toKey(''), id));
      const candidates = indexed ? [indexed] : [...new Set([bullJobId(id), legacyBullJobId(id), id])];
      for (const bullId of candidates) {
        const [job, state, [progress, deadLetter, startedBefore]] = await Promise.all([
          Job.fromId(target, bullId),
          target.getJobState(bullId) as Promise<BullJobState>,
          connection.hmget(target.toKey(bullId), 'progress', DEAD_LETTER_FIELD, STARTED_BEFORE_FIELD),
        ]);
        if (!job || fromBullJob(job).id !== id) continue;
        const jobState = toJobState(state, job);
        if (!jobState) continue;
        return toJobStatus(job, jobState, {
          hasProgress: progress !== null && progress !== undefined,
          deadLetter: parseDeadLetterRecord(deadLetter),
          startedBefore: startedBefore ? Number(startedBefore) : undefined,
        });
      }
      return undefined;
    } catch (error) {
      throw toQueuekitError(error, 'get-job');
    }
  }
}
