import {
  type BackoffOptions,
  CORE_HEADERS,
  DEFAULT_BACKOFF,
  type DeadLetterInfo,
  type OutgoingMessage,
  type ReceivedMessage,
} from '@queuekit/core';
import type { Job, JobsOptions } from 'bullmq';
import { bodyToData, dataToBody, META_OPTION, type QueuekitJobMeta, readMeta } from './payload.js';
import { fromBullPriority, toBullPriority } from './priority.js';

/** Where a message goes: its BullMQ id (BullMQ numbers it when absent) and whether it is a copy. */
export interface JobPlacement {
  readonly jobId: string | undefined;
  /** A later copy of a job with the same queuekit id (retry-after, delay hop, redrive). */
  readonly copy?: boolean;
}

/** A job ready for `Queue.add` / `Queue.addBulk`. */
export interface BullJobSpec {
  readonly name: string;
  readonly data: unknown;
  readonly opts: JobsOptions;
}

/** Job-level settings that come from the driver's options. */
export interface JobSettings {
  /** Completed jobs to keep (count); 0: no count limit. */
  readonly keepCompleted: number;
  /** How long completed jobs are kept (ms); 0 with `keepCompleted` 0 removes a job as soon as it completes. */
  readonly keepCompletedMs: number;
}

/** BullMQ's `removeOnComplete` for the settings. */
export function removeOnComplete(settings: JobSettings): JobsOptions['removeOnComplete'] {
  const count = settings.keepCompleted > 0 ? { count: settings.keepCompleted } : undefined;
  if (settings.keepCompletedMs <= 0) return count ?? true;
  return { age: Math.ceil(settings.keepCompletedMs / 1000), ...count };
}

/** Header carrying the ISO time of the tick a recurring run belongs to. */
export const TICK_HEADER = 'queuekit-tick';
/** Header the core puts on every run of a recurring job (the schedule's name). */
export const SCHEDULE_HEADER = 'queuekit-schedule';

/** BullMQ's id of a job scheduler's run: `repeat:<scheduler id>:<tick ms>`. */
const SCHEDULER_RUN_ID = /^repeat:.+:(\d+)$/;

/** The tick (epoch ms) of a job made by a BullMQ job scheduler, or `undefined` for other jobs. */
export function schedulerTick(job: Pick<Job, 'id' | 'repeatJobKey'>): number | undefined {
  if (!job.repeatJobKey || job.id === undefined) return undefined;
  const match = SCHEDULER_RUN_ID.exec(job.id);
  return match ? Number(match[1]) : undefined;
}

/** Hash field holding the dead-letter record ({@link DeadLetterRecord}) of a failed job. */
export const DEAD_LETTER_FIELD = 'qkdl';

/**
 * Hash field holding the deliveries (`attemptsStarted`) a job had when it left `active` for good
 * (completed or dead-lettered) or was replaced in place by a core copy. BullMQ's own count (`ats`) is
 * then reset to 0, so that a job moved back by BullMQ tools (Bull Board's Retry, which keeps
 * `attemptsStarted`) starts with a fresh attempt budget; `getJob` reads the old count from here.
 */
export const STARTED_BEFORE_FIELD = 'qkat';

/** What queuekit stores next to BullMQ's `failedReason` when it dead-letters a job. */
export interface DeadLetterRecord extends DeadLetterInfo {
  /** Epoch ms. */
  readonly at: number;
  /**
   * Headers taken off the stored options as the job was dead-lettered (`qk-attempt`, `qk-not-before`:
   * see `BullDelivery`), put back when the dead letter is listed.
   */
  readonly h?: Readonly<Record<string, string>>;
}

/** Marks an escaped BullMQ job id (see {@link bullJobId}). */
const ESCAPE = 'qk-';

/**
 * BullMQ job id for a deduplicated send. BullMQ refuses custom ids that are integers or contain
 * `:`; those, and ids that already start with `qk-`, are stored as `qk-` plus the URI-encoded id
 * (the queuekit id stays in the meta). Injective: an id that is kept as is never starts with
 * `qk-`, and an escaped one always does.
 */
export function bullJobId(id: string): string {
  if (`${Number.parseInt(id, 10)}` === id || id.includes(':') || id.startsWith(ESCAPE))
    return `${ESCAPE}${encodeURIComponent(id)}`;
  return id;
}

/**
 * The BullMQ id the escape before 0.2 gave `id` (it left ids starting with `qk-` as they were, so
 * `1` and `qk-1` collided). Read-only: `getJob` still finds jobs written that way.
 */
export function legacyBullJobId(id: string): string {
  if (`${Number.parseInt(id, 10)}` === id || id.includes(':')) return `${ESCAPE}${encodeURIComponent(id)}`;
  return id;
}

function positiveInt(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** BullMQ's native backoff for plain BullMQ workers that process a queuekit job. */
function bullBackoff(raw: string | undefined): JobsOptions['backoff'] {
  let parsed: BackoffOptions = DEFAULT_BACKOFF;
  if (raw) {
    try {
      parsed = { ...DEFAULT_BACKOFF, ...(JSON.parse(raw) as BackoffOptions) };
    } catch {
      parsed = DEFAULT_BACKOFF;
    }
  }
  const jitter = parsed.jitter && parsed.jitter > 0 && parsed.jitter <= 1 ? { jitter: parsed.jitter } : {};
  return { type: parsed.type ?? 'exponential', delay: parsed.delay ?? DEFAULT_BACKOFF.delay, ...jitter };
}

/**
 * Map an outgoing message onto a BullMQ job: JSON bodies become `data`; headers travel in
 * `opts.queuekit`; `attempts` and `backoff` are set from the core's headers so that a plain BullMQ
 * worker retries the job the same way; a priority is always set (see `priority.ts`).
 */
export function toBullJob(
  message: OutgoingMessage,
  settings: JobSettings,
  placement: JobPlacement = { jobId: message.dedup ? bullJobId(message.id) : undefined },
): BullJobSpec {
  const { data, e } = bodyToData(message.body, message.headers[CORE_HEADERS.contentType]);
  const { jobId } = placement;
  const attempts = positiveInt(message.headers[CORE_HEADERS.maxAttempts]);
  const meta: QueuekitJobMeta = {
    v: 1,
    h: compactHeaders(withoutNativeNotBefore(message), message.name, e === undefined, attempts),
    ...(jobId === message.id ? {} : { id: message.id }),
    ...(e ? { e } : {}),
    ...(message.headers[CORE_HEADERS.name] === undefined ? { n: false as const } : {}),
    ...(placement.copy ? { c: 1 as const } : {}),
  };
  const opts: JobsOptions & { [META_OPTION]: QueuekitJobMeta } = {
    priority: toBullPriority(message.priority),
    removeOnComplete: removeOnComplete(settings),
    [META_OPTION]: meta,
    ...(jobId === undefined ? {} : { jobId }),
    ...(message.delayMs !== undefined && message.delayMs > 0 ? { delay: Math.ceil(message.delayMs) } : {}),
    ...(attempts === undefined
      ? {}
      : { attempts, backoff: bullBackoff(message.headers[CORE_HEADERS.backoff]) }),
  };
  return { name: message.name, data, opts };
}

const JSON_TYPE = 'application/json';

/**
 * The headers without `qk-not-before` when BullMQ's delayed set already holds the job at least that
 * long (the whole delay is native, not a hop): the delayed set is then the only clock, so a job a
 * person promoted or whose delay they changed (Bull Board's Promote, "Edit delay") runs when BullMQ
 * hands it out instead of being parked again by the core. A hop keeps the header.
 */
function withoutNativeNotBefore(message: OutgoingMessage): Readonly<Record<string, string>> {
  const raw = message.headers[CORE_HEADERS.notBefore];
  if (raw === undefined || message.delayMs === undefined || message.delayMs <= 0) return message.headers;
  const notBefore = Number(raw);
  // BullMQ counts the delay from its own Date.now(), taken after this one.
  if (!Number.isFinite(notBefore) || notBefore > Date.now() + Math.ceil(message.delayMs))
    return message.headers;
  const { [CORE_HEADERS.notBefore]: _covered, ...rest } = message.headers;
  return rest;
}

/**
 * Headers as stored, without what the job itself already says: `qk-name` when it equals the job
 * name, `content-type` when it is exactly `application/json` and the body is stored as JSON, and
 * `qk-max-attempts` when it equals the job's `attempts` option. {@link fullHeaders} puts them back.
 */
function compactHeaders(
  headers: Readonly<Record<string, string>>,
  name: string,
  jsonData: boolean,
  attempts: number | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key in headers) {
    const value = headers[key] as string;
    if (key === CORE_HEADERS.name && value === name) continue;
    if (key === CORE_HEADERS.contentType && jsonData && value === JSON_TYPE) continue;
    if (key === CORE_HEADERS.maxAttempts && attempts !== undefined && value === String(attempts)) continue;
    out[key] = value;
  }
  return out;
}

/** The headers as sent, from the stored ones (see {@link compactHeaders}). */
function fullHeaders(meta: QueuekitJobMeta, job: JobLike): Record<string, string> {
  const headers: Record<string, string> = { ...meta.h };
  if (meta.e === undefined && headers[CORE_HEADERS.contentType] === undefined)
    headers[CORE_HEADERS.contentType] = JSON_TYPE;
  if (meta.n !== false && headers[CORE_HEADERS.name] === undefined) headers[CORE_HEADERS.name] = job.name;
  if (headers[CORE_HEADERS.maxAttempts] === undefined && job.opts.attempts)
    headers[CORE_HEADERS.maxAttempts] = String(job.opts.attempts);
  return headers;
}

/** Headers of a job added by plain BullMQ: JSON data, and its `attempts` as the attempt budget. */
function foreignHeaders(job: JobLike): Record<string, string> {
  const headers: Record<string, string> = { [CORE_HEADERS.contentType]: 'application/json' };
  if (job.opts.attempts && job.opts.attempts > 0)
    headers[CORE_HEADERS.maxAttempts] = String(job.opts.attempts);
  return headers;
}

/** What {@link fromBullJob} reads of a job (a `Job`, or a job scheduler's template). */
export type JobLike = Pick<
  Job,
  'id' | 'name' | 'data' | 'opts' | 'attemptsStarted' | 'attemptsMade' | 'timestamp' | 'repeatJobKey'
> & { readonly priority?: number };

/**
 * The BullMQ priority the job holds now: the job hash's (Bull Board's "Change priority" updates only
 * that), else the one it was added with.
 */
function heldPriority(job: JobLike): number | undefined {
  const held = job.priority;
  return typeof held === 'number' && Number.isFinite(held) ? held : job.opts.priority;
}

/**
 * Whether a job is a copy another tool added with the options of a queuekit job (Bull Board's
 * "Duplicate": `queue.add(name, data, job.opts)`): its meta was stamped for a job created at another
 * time (see `send-queue.ts`).
 */
function isForeignCopy(meta: QueuekitJobMeta, job: JobLike): boolean {
  return meta.t !== undefined && meta.t !== job.timestamp;
}

/** The meta of a foreign copy: not a later copy of its original's queuekit id (no `id`, no `c`). */
function asNewJobMeta({ id: _id, c: _c, ...rest }: QueuekitJobMeta): QueuekitJobMeta {
  return rest;
}

/**
 * The headers of a foreign copy: a new job, so its attempts start at 1 and it was enqueued when it was
 * added (`qk-enqueued-at` = its BullMQ timestamp).
 */
function asNewJob(headers: Record<string, string>, job: JobLike): Record<string, string> {
  const { [CORE_HEADERS.attempt]: _attempt, ...rest } = headers;
  return { ...rest, [CORE_HEADERS.enqueuedAt]: String(job.timestamp) };
}

/** The queuekit view of any BullMQ job, sent by queuekit or by plain BullMQ. */
export function fromBullJob(job: JobLike, raw: unknown = job): ReceivedMessage {
  const stored = readMeta(job.opts);
  // A foreign copy is a job of its own: its BullMQ id is its queuekit id.
  const foreignCopy = stored !== undefined && isForeignCopy(stored, job);
  const meta = foreignCopy ? asNewJobMeta(stored) : stored;
  const priority = fromBullPriority(heldPriority(job));
  const full = meta ? fullHeaders(meta, job) : foreignHeaders(job);
  const headers = foreignCopy ? asNewJob(full, job) : full;
  const tick = meta ? schedulerTick(job) : undefined;
  if (tick !== undefined) headers[TICK_HEADER] = new Date(tick).toISOString();
  return {
    id: meta?.id ?? String(job.id),
    name: job.name,
    body: dataToBody(job.data, meta?.e),
    headers,
    deliveryCount: Math.max(1, job.attemptsStarted || job.attemptsMade + 1),
    enqueuedAt: new Date(job.timestamp),
    ...(priority === undefined ? {} : { priority }),
    raw,
  };
}

/** The queuekit view of a job copied for redrive: its own id, new headers, a fresh count. */
export function redriveMessage(job: Job, headers: Readonly<Record<string, string>>): OutgoingMessage {
  const view = fromBullJob(job);
  return {
    id: view.id,
    name: job.name,
    body: view.body,
    headers: { ...view.headers, ...headers },
    priority: view.priority ?? 0,
  };
}

/** Parse a stored dead-letter record; `undefined` when absent or unreadable. */
export function parseDeadLetterRecord(raw: string | null | undefined): DeadLetterRecord | undefined {
  if (!raw) return undefined;
  try {
    const value = JSON.parse(raw) as Partial<DeadLetterRecord>;
    if (typeof value.reason !== 'string') return undefined;
    return {
      reason: value.reason,
      at: typeof value.at === 'number' ? value.at : Date.now(),
      ...(typeof value.error === 'string' ? { error: value.error } : {}),
      ...(typeof value.attempts === 'number' ? { attempts: value.attempts } : {}),
      ...(typeof value.h === 'object' && value.h !== null ? { h: stringEntries(value.h) } : {}),
    };
  } catch {
    return undefined;
  }
}

/** The string values of an untrusted object, in an object without a prototype. */
function stringEntries(value: object): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [key, entry] of Object.entries(value)) if (typeof entry === 'string') out[key] = entry;
  return out;
}
