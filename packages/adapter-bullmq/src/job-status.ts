import { CORE_HEADERS, type JobState, type NativeJobStatus } from '@queuekit/core';
import type { Job } from 'bullmq';
import { type DeadLetterRecord, fromBullJob } from './job-mapping.js';
import { readMeta } from './payload.js';

/** BullMQ's answer to `getJobState`. */
export type BullJobState =
  | 'completed'
  | 'failed'
  | 'delayed'
  | 'active'
  | 'prioritized'
  | 'waiting'
  | 'waiting-children'
  | 'unknown';

function intOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * queuekit's state of a BullMQ job. A delayed job is `retrying` when it already started once
 * (released by a core retry) or is a copy the core re-sent (retry-after); otherwise `delayed`.
 */
export function toJobState(state: BullJobState, job: Job): JobState | undefined {
  switch (state) {
    case 'waiting':
    case 'prioritized':
    case 'waiting-children':
      return 'waiting';
    case 'delayed':
      return job.attemptsStarted > 0 || readMeta(job.opts)?.c === 1 ? 'retrying' : 'delayed';
    case 'active':
      return 'active';
    case 'completed':
      return 'completed';
    case 'failed':
      return 'failed';
    default:
      return undefined;
  }
}

/**
 * The job record `getJob` answers, from BullMQ's job data: the return value as `result`,
 * `progress` as stored by `updateProgress` (absent until the handler reports one), the attempts
 * counted the way the core counts them (`qk-attempt` + deliveries − 1), and queuekit's
 * dead-letter record for failed jobs.
 */
export function toJobStatus(
  job: Job,
  state: JobState,
  fields: {
    readonly hasProgress: boolean;
    readonly deadLetter: DeadLetterRecord | undefined;
    /** BullMQ's delivery count before the driver restarted it (completion, dead letter). */
    readonly startedBefore?: number | undefined;
  },
): NativeJobStatus {
  const view = fromBullJob(job);
  const baseAttempt = Math.max(1, intOf(view.headers[CORE_HEADERS.attempt]) ?? 1);
  // A finished job's count was moved aside (see STARTED_BEFORE_FIELD) until BullMQ tools move it back.
  const finished = state === 'completed' || state === 'failed';
  const startedNow =
    finished && job.attemptsStarted === 0 && fields.startedBefore !== undefined && fields.startedBefore >= 0
      ? fields.startedBefore
      : job.attemptsStarted;
  const started = readMeta(job.opts) ? startedNow : Math.max(startedNow, job.attemptsMade);
  // A copy not started yet (retry-after) reports the attempt that made it; the core numbers its next run.
  const counted =
    started === 0 && readMeta(job.opts)?.c === 1 ? Math.max(1, baseAttempt - 1) : baseAttempt - 1 + started;
  const maxAttempts = intOf(view.headers[CORE_HEADERS.maxAttempts]);
  const createdAt = intOf(view.headers[CORE_HEADERS.enqueuedAt]) ?? job.timestamp;
  const record = fields.deadLetter;
  const error = state === 'failed' ? (record?.error ?? (job.failedReason || undefined)) : undefined;
  const result = state === 'completed' && job.returnvalue !== null ? job.returnvalue : undefined;
  return {
    name: job.name,
    state,
    attempts: state === 'failed' ? (record?.attempts ?? counted) : counted,
    ...(maxAttempts === undefined ? {} : { maxAttempts }),
    ...(fields.hasProgress ? { progress: job.progress } : {}),
    ...(result === undefined ? {} : { result }),
    ...(error === undefined ? {} : { error }),
    ...(state === 'failed' ? { reason: record?.reason ?? 'failed' } : {}),
    createdAt: new Date(createdAt),
    ...(job.processedOn ? { startedAt: new Date(job.processedOn) } : {}),
    ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn) } : {}),
  };
}
