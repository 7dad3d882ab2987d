import {
  CORE_HEADERS as H,
  DEFAULT_BACKOFF,
  type DeadLetterInfo,
  type OutgoingMessage,
  type ReceivedMessage,
} from '@queuekit/core';
import { backoffHeader, maxAttemptsHeader } from '@queuekit/core/driver-kit';
import { Job, type JobJson, type JobsOptions, optsEncodeMap, Queue } from 'bullmq';
import type { ResolvedOptions } from './options.js';

/**
 * How a queuekit message is stored as a BullMQ job, so that plain BullMQ workers see ordinary jobs: a
 * JSON body is the job's `data` as real JSON, and the headers travel in `opts.queuekit`, which plain
 * workers ignore.
 */

/** How the body is stored in `job.data`. Absent means JSON: `data` is the parsed body. */
export type BodyEncoding = 'text' | 'base64';

/** The `opts.queuekit` option stored with every job sent by queuekit. */
export interface QueuekitJobMeta {
  readonly v: 1;
  /** queuekit job id, when it differs from the BullMQ job id. */
  readonly id?: string;
  /** Headers (`qk-*`, `content-type`, user headers), without what the job itself says (see `compactHeaders`). */
  readonly h: Readonly<Record<string, string>>;
  readonly e?: BodyEncoding;
  /** `false` when the headers had no `qk-name`. */
  readonly n?: false;
  /** `1` on a later copy of a job with the same queuekit id (retry-after, delay hop, redrive). */
  readonly c?: 1;
  /** On the reduce job of a native fan-out: Redis key of the fan-out's record (see `flows/fan-out.ts`). */
  readonly f?: string;
  /**
   * BullMQ `timestamp` of the job this meta was written for (see {@link StoredJob}): a job whose own
   * timestamp differs is a copy another tool added with these options (Bull Board's "Duplicate").
   */
  readonly t?: number;
}

/** Name of the BullMQ job option carrying {@link QueuekitJobMeta}. */
export const META_OPTION = 'queuekit';
/** Hash field holding the {@link DeadLetterRecord} of a failed job. */
export const DEAD_LETTER_FIELD = 'qkdl';
/**
 * Hash field holding the deliveries (`attemptsStarted`) a job had when it left `active` for good or was
 * replaced in place by a core copy. BullMQ's own count (`ats`) is then reset to 0, so that a job moved
 * back by BullMQ tools (Bull Board's Retry keeps `attemptsStarted`) starts with a fresh attempt budget;
 * `getJob` reads the old count from here.
 */
export const STARTED_BEFORE_FIELD = 'qkat';
/** Header carrying the ISO time of the tick a recurring run belongs to. */
export const TICK_HEADER = 'queuekit-tick';
/** Index entries outlive the job's delay and the completed-job retention by this much (waiting time). */
export const INDEX_SLACK_MS = 7 * 24 * 60 * 60 * 1000;

/** What queuekit stores next to BullMQ's `failedReason` when it dead-letters a job. */
export interface DeadLetterRecord extends DeadLetterInfo {
  readonly at: number;
  /** Headers taken off the stored options as the job was dead-lettered, put back when it is listed. */
  readonly h?: Readonly<Record<string, string>>;
}

/** Job-level settings from the driver's options. */
export type JobSettings = Pick<ResolvedOptions, 'keepCompletedMs' | 'removeOnComplete'>;

/** Where a message goes: its BullMQ id (BullMQ numbers it when absent) and whether it is a copy. */
export interface JobPlacement {
  readonly jobId: string | undefined;
  readonly copy?: boolean;
}

const JSON_TYPE = 'application/json';
const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** BullMQ's id of a job scheduler's run: `repeat:<scheduler id>:<tick ms>`. */
const SCHEDULER_RUN_ID = /^repeat:.+:(\d+)$/;
/** Marks an escaped BullMQ job id (see {@link bullJobId}). */
const ESCAPE = 'qk-';

/**
 * queuekit priorities are 0-9 with 9 served first; BullMQ's are 1..2^21 with 1 served first, and a job
 * without one is served before every prioritized job. So queuekit always sets one: 0 maps to 10, 9 to 1.
 */
const BULL_PRIORITY_OF_ZERO = 10;

export function toBullPriority(priority: number | undefined): number {
  return BULL_PRIORITY_OF_ZERO - Math.min(9, Math.max(0, Math.trunc(priority ?? 0)));
}

/** `undefined` for an unprioritized job (plain BullMQ), 0 for priorities beyond queuekit's range. */
export function fromBullPriority(bullPriority: number | undefined): number | undefined {
  if (!bullPriority || bullPriority <= 0) return undefined;
  return bullPriority > BULL_PRIORITY_OF_ZERO ? 0 : BULL_PRIORITY_OF_ZERO - bullPriority;
}

/**
 * BullMQ job id for a deduplicated send. BullMQ refuses custom ids that are integers or contain `:`;
 * those, and ids starting with `qk-`, become `qk-` plus the URI-encoded id. Injective: a kept id never
 * starts with `qk-`, an escaped one always does.
 */
export function bullJobId(id: string): string {
  return legacyBullJobId(id) !== id || id.startsWith(ESCAPE) ? `${ESCAPE}${encodeURIComponent(id)}` : id;
}

/** The escape before 0.2 (`1` and `qk-1` collided). Read-only: `getJob` still finds jobs stored so. */
export function legacyBullJobId(id: string): string {
  if (`${Number.parseInt(id, 10)}` === id || id.includes(':')) return `${ESCAPE}${encodeURIComponent(id)}`;
  return id;
}

/** Redis key (under the queue's BullMQ prefix) of the `getJob` index entry of a queuekit id. */
export function indexKey(queueKeyPrefix: string, id: string): string {
  return `${queueKeyPrefix}qk:id:${id}`;
}

/**
 * BullMQ ids for a batch, so that `getJob(id)` finds the latest job of an id without an index in the
 * common case: dedup sends and first sends of a core-generated UUID keep the queuekit id; copies (named
 * by `copyOf`, repeated in the batch, or every message of a redrive) and other ids are numbered by
 * BullMQ and indexed. So a non-dedup send of an id already in the broker is never dropped.
 */
export function placeMessages(messages: readonly OutgoingMessage[], copies = false): JobPlacement[] {
  const seen = new Set<string>();
  return messages.map((message) => {
    if (message.dedup) return { jobId: bullJobId(message.id) };
    const copy = copies || message.copyOf !== undefined || seen.has(message.id);
    seen.add(message.id);
    if (copy) return { jobId: undefined, copy: true };
    return UUID.test(message.id) ? { jobId: message.id } : { jobId: undefined };
  });
}

/** The tick (epoch ms) of a job made by a BullMQ job scheduler, or `undefined` for other jobs. */
export function schedulerTick(job: Pick<Job, 'id' | 'repeatJobKey'>): number | undefined {
  if (!job.repeatJobKey || job.id === undefined) return undefined;
  const match = SCHEDULER_RUN_ID.exec(job.id);
  return match ? Number(match[1]) : undefined;
}

/** Whether a `content-type` value is JSON (`application/json`, `application/x+json`, with parameters). */
function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === JSON_TYPE) return true;
  const mime = contentType?.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return mime === JSON_TYPE || mime.endsWith('+json');
}

/**
 * A body as BullMQ `data`: JSON bodies as real JSON values when that is lossless (the text is exactly
 * what `JSON.stringify` gives back, as for queuekit's JSON codec), other UTF-8 text as a string, anything
 * else as base64.
 */
export function bodyToData(
  body: Uint8Array,
  contentType: string | undefined,
): { data: unknown; e?: BodyEncoding; json?: string } {
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    const data = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64');
    return { data, e: 'base64' };
  }
  if (isJsonContentType(contentType)) {
    try {
      const value: unknown = JSON.parse(text);
      // A value only when lossless: other JSON (spaces, escapes) is kept as the text it is.
      if (JSON.stringify(value) === text) return { data: value, json: text };
    } catch {
      // Not JSON after all: kept as text, and the consumer's codec reports it.
    }
  }
  return { data: text, e: 'text' };
}

/** `json`: the data as stored, when it is JSON that `JSON.stringify` wrote (a queuekit job's): encoded as it is. */
export function dataToBody(data: unknown, e: BodyEncoding | undefined, json?: string): Uint8Array {
  if (e === 'base64' && typeof data === 'string') return new Uint8Array(Buffer.from(data, 'base64'));
  if (e === 'text' && typeof data === 'string') return encoder.encode(data);
  return encoder.encode(json || JSON.stringify(data === undefined ? null : data));
}

/**
 * The checked queuekit meta of a job's options; `undefined` for jobs added by plain BullMQ. Any producer
 * can write this option, so it is rebuilt from checked fields only (string headers, see {@link headerRecord}).
 */
export function readMeta(opts: unknown): QueuekitJobMeta | undefined {
  const meta = (opts as Record<string, unknown> | null | undefined)?.[META_OPTION];
  if (typeof meta !== 'object' || meta === null) return undefined;
  const { v, h, id, e, n, c, f, t } = meta as Record<string, unknown>;
  if (v !== 1 || typeof h !== 'object' || h === null || Array.isArray(h)) return undefined;
  // Set one by one, not spread in (V8's slow path, once per job received).
  const out: { -readonly [K in keyof QueuekitJobMeta]: QueuekitJobMeta[K] } = { v: 1, h: headerRecord(h) };
  if (typeof id === 'string' && id !== '') out.id = id;
  if (e === 'text' || e === 'base64') out.e = e;
  if (n === false) out.n = n;
  if (c === 1) out.c = c;
  // A fan-out meta of another type stays visible (as no key), so that the job is refused.
  if (f !== undefined) out.f = typeof f === 'string' ? f : '';
  if (typeof t === 'number' && Number.isFinite(t)) out.t = t;
  return out;
}

/**
 * The string values of an untrusted header map, in a plain object where `__proto__` is an own property (just
 * a name). Not an object without prototype: V8 keeps those as dictionaries, and completing, reading and
 * spreading one cost about 4 us a delivery against 0.5 for a plain object (micro-benchmark).
 */
function headerRecord(h: object): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(h))
    if (typeof value !== 'string') continue;
    else if (key !== '__proto__') out[key] = value;
    else Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

/** Whether a job's options carry a fan-out record key (a reduce job, or one forged like it): see `readMeta`. */
export function hasFanOutMeta(opts: unknown): boolean {
  // A meta that is not an object reads `f` as undefined (opts are decoded data: no getters).
  return (opts as { [META_OPTION]?: { f?: unknown } } | null | undefined)?.[META_OPTION]?.f !== undefined;
}

type Backoff = JobsOptions['backoff'];

/** BullMQ's native backoff (`qk-backoff` as the core reads it), for plain BullMQ workers that process a queuekit job. */
function bullBackoff(headers: Record<string, string>, backoff = backoffHeader(headers)): Backoff {
  if (!backoff) return DEFAULT_BULL_BACKOFF;
  const { type, delay, jitter } = backoff;
  return jitter > 0 ? { type, delay, jitter } : { type, delay };
}

/** The default backoff: one frozen object, shared by the jobs without `qk-backoff`. */
const DEFAULT_BULL_BACKOFF: Backoff = Object.freeze(bullBackoff({}, DEFAULT_BACKOFF));

/**
 * An outgoing message as a BullMQ job: `attempts` and `backoff` from the core's headers, so that a plain
 * BullMQ worker retries it the same way; always a priority. `json`: a JSON body's text, which `data`
 * stringifies to (checked by {@link bodyToData}), for {@link JsonData}.
 */
export function toBullJob(
  message: OutgoingMessage,
  settings: JobSettings,
  placement: JobPlacement,
): { readonly name: string; readonly data: unknown; readonly opts: JobsOptions; readonly json?: string } {
  const { data, e, json } = bodyToData(message.body, message.headers[H.contentType]);
  const { jobId } = placement;
  // As the core reads it (1..1000), so that a plain BullMQ worker retries as often as a queuekit consumer.
  const attempts = maxAttemptsHeader(message.headers, 0) || undefined;
  // Optional fields set one by one, not spread in: a spread per job is V8's slow path.
  const meta: { -readonly [K in keyof QueuekitJobMeta]: QueuekitJobMeta[K] } = {
    v: 1,
    h: compactHeaders(message, e === undefined, attempts),
  };
  if (jobId !== message.id) meta.id = message.id;
  if (e) meta.e = e;
  if (message.headers[H.name] === undefined) meta.n = false;
  if (placement.copy) meta.c = 1;
  const opts: JobsOptions & { [META_OPTION]: QueuekitJobMeta } = {
    priority: toBullPriority(message.priority),
    removeOnComplete: settings.removeOnComplete,
    [META_OPTION]: meta,
  };
  if (jobId !== undefined) opts.jobId = jobId;
  if (message.delayMs !== undefined && message.delayMs > 0) opts.delay = Math.ceil(message.delayMs);
  if (attempts !== undefined) {
    opts.attempts = attempts;
    opts.backoff = bullBackoff(message.headers);
  }
  return { name: message.name, data, opts, json };
}

/**
 * Headers as stored, without what the job itself says: `qk-name` equal to the job name, `content-type`
 * exactly JSON for JSON data, `qk-max-attempts` equal to `attempts`. {@link fullHeaders} puts them back.
 * Also without `qk-not-before` when the whole delay is native (not a hop): BullMQ's delayed set is then the
 * only clock, so a job a person promoted or re-delayed (Bull Board) runs when BullMQ hands it out instead of
 * being parked again by the core.
 */
function compactHeaders(
  message: OutgoingMessage,
  jsonData: boolean,
  attempts: number | undefined,
): Record<string, string> {
  const { headers, name } = message;
  const notBefore = Number(headers[H.notBefore]);
  const delayMs = message.delayMs ?? 0;
  // BullMQ counts the delay from its own Date.now(), taken after this one.
  const nativeDelay =
    delayMs > 0 && Number.isFinite(notBefore) && notBefore <= Date.now() + Math.ceil(delayMs);
  const out: Record<string, string> = {};
  for (const key in headers) {
    const value = headers[key] as string;
    if (key === H.name && value === name) continue;
    if (key === H.contentType && jsonData && value === JSON_TYPE) continue;
    if (key === H.maxAttempts && attempts !== undefined && value === String(attempts)) continue;
    if (key === H.notBefore && nativeDelay) continue;
    out[key] = value;
  }
  return out;
}

function fullHeaders(meta: QueuekitJobMeta, job: JobLike): Record<string, string> {
  // `readMeta`'s own copy, or a new object: completed in place.
  const headers = meta.h as Record<string, string>;
  if (meta.e === undefined && headers[H.contentType] === undefined) headers[H.contentType] = JSON_TYPE;
  if (meta.n !== false && headers[H.name] === undefined) headers[H.name] = job.name;
  if (headers[H.maxAttempts] === undefined && (job.opts.attempts ?? 0) > 0)
    headers[H.maxAttempts] = String(job.opts.attempts);
  return headers;
}

/** What {@link fromBullJob} reads of a job (a `Job`, or a job scheduler's template). */
export type JobLike = Pick<
  Job,
  'id' | 'name' | 'data' | 'opts' | 'attemptsStarted' | 'attemptsMade' | 'timestamp' | 'repeatJobKey'
> & { readonly priority?: number };

/**
 * The queuekit view of any BullMQ job, sent by queuekit or by plain BullMQ. `data`: the job's data as stored
 * (JSON text), when known: the body of a queuekit job is then that text, not the parsed data stringified again.
 */
export function fromBullJob(job: JobLike, raw: unknown = job, data?: string): ReceivedMessage {
  const stored = readMeta(job.opts);
  // A plain BullMQ job reads as one sent without headers nor `qk-name`: JSON data, BullMQ's attempts.
  let headers = fullHeaders(stored ?? { v: 1, h: {}, n: false }, job);
  let meta = stored;
  // A copy another tool added with a queuekit job's options (Bull Board's Duplicate) is a new job: its
  // BullMQ id is its queuekit id, its attempts start at 1, it was enqueued when it was added.
  if (stored?.t !== undefined && stored.t !== job.timestamp) {
    const { id: _id, c: _c, ...rest } = stored;
    meta = rest;
    const { [H.attempt]: _attempt, ...kept } = headers;
    headers = { ...kept, [H.enqueuedAt]: String(job.timestamp) };
  }
  const tick = meta ? schedulerTick(job) : undefined;
  if (tick !== undefined) headers[TICK_HEADER] = new Date(tick).toISOString();
  // The priority the job holds now: Bull Board's "Change priority" updates only the hash's.
  const held =
    typeof job.priority === 'number' && Number.isFinite(job.priority) ? job.priority : job.opts.priority;
  const priority = fromBullPriority(held);
  const message: { -readonly [K in keyof ReceivedMessage]: ReceivedMessage[K] } = {
    id: meta?.id ?? String(job.id),
    name: job.name,
    body: bodyOf(job, meta, data),
    headers,
    deliveryCount: Math.max(1, job.attemptsStarted || job.attemptsMade + 1),
    enqueuedAt: new Date(job.timestamp),
    raw,
  };
  if (priority !== undefined) message.priority = priority;
  return message;
}

function bodyOf(job: JobLike, meta: QueuekitJobMeta | undefined, data: string | undefined): Uint8Array {
  const undecodable = undecodableData.get(job);
  if (undecodable !== undefined) return encoder.encode(undecodable);
  return dataToBody(job.data, meta?.e, meta ? data : undefined);
}

/** A dead letter as a new message to redrive: its own id, new headers, a fresh count. */
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

/** A stored dead-letter record; `undefined` when absent or unreadable. */
export function parseDeadLetterRecord(raw: string | null | undefined): DeadLetterRecord | undefined {
  try {
    const value = JSON.parse(raw || 'null') as Partial<DeadLetterRecord> | null;
    if (typeof value?.reason !== 'string') return undefined;
    return {
      reason: value.reason,
      at: typeof value.at === 'number' ? value.at : Date.now(),
      ...(typeof value.error === 'string' ? { error: value.error } : {}),
      ...(typeof value.attempts === 'number' ? { attempts: value.attempts } : {}),
      ...(typeof value.h === 'object' && value.h !== null ? { h: headerRecord(value.h) } : {}),
    };
  } catch {
    return undefined;
  }
}

/** Job options as BullMQ stores them in the job hash (its short names for some keys). */
export function encodeOpts(opts: JobsOptions): Record<string, unknown> {
  const encode = optsEncodeMap as Record<string, string>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(opts)) {
    if (value === undefined) continue;
    if (key === 'telemetry') {
      const telemetry = value as NonNullable<JobsOptions['telemetry']>;
      if (telemetry.metadata !== undefined) out.tm = telemetry.metadata;
      if (telemetry.omitContext !== undefined) out.omc = telemetry.omitContext;
    } else out[encode[key] ?? key] = value;
  }
  return out;
}

/** The stored text of jobs whose data is not JSON (see {@link StoredJob.fromJSON}). */
const undecodableData = new WeakMap<object, string>();

/** Whether BullMQ's `JSON.parse` of a stored `data` field succeeds (an empty one reads as `{}`). */
function parses(text: string | undefined): boolean {
  try {
    JSON.parse(text || '{}');
    return true;
  } catch {
    return false;
  }
}

/**
 * Job data that {@link SendQueue} stores as the given JSON text (what `JSON.stringify(value)` gives, checked
 * by {@link bodyToData}) instead of stringifying it again. A wrapper, not a `WeakMap` by value: an
 * entry per job sent cost the garbage collector about 1 µs a job.
 */
export class JsonData {
  constructor(
    readonly value: unknown,
    readonly text: string,
  ) {}
}

/**
 * A job stored without the `jobId` option, its meta stamped with the job's creation time (`t`). BullMQ
 * keeps `jobId` in the stored options, so a tool that re-adds a job with its options (Bull Board's
 * Duplicate) would be dropped as a duplicate; without it the re-added job gets a new BullMQ id, and its
 * copied `t` tells the driver it is a new job (see {@link fromBullJob}).
 */
export class StoredJob extends Job {
  /**
   * BullMQ's reading of a stored job, except that a `data` field that is not JSON (another producer's, or a
   * corrupted hash) does not throw, which would fail every receive, peek and listing of the queue for good
   * while the job cycles through the stalled check. Such data reads as `null`, and its stored text becomes the
   * job's body ({@link fromBullJob}), which the core dead-letters as `undecodable`.
   */
  static override fromJSON<T = unknown, R = unknown, N extends string = string>(
    queue: Parameters<typeof Job.fromJSON>[0],
    json: JobJson,
    jobId?: string,
  ): Job<T, R, N> {
    try {
      // biome-ignore lint/complexity/noThisInStatic: `super` reads the job as this class, as BullMQ's `new this`
      return super.fromJSON<T, R, N>(queue, json, jobId);
    } catch (error) {
      if (!(error instanceof SyntaxError) || parses(json.data)) throw error;
      // biome-ignore lint/complexity/noThisInStatic: as above
      const job = super.fromJSON<T, R, N>(queue, { ...json, data: 'null' }, jobId);
      undecodableData.set(job, json.data);
      return job;
    }
  }

  override asJSON(): JobJson {
    const { jobId: _jobId, ...opts } = this.opts;
    const meta = (opts as Record<string, unknown>)[META_OPTION];
    if (typeof meta === 'object' && meta !== null)
      (opts as Record<string, unknown>)[META_OPTION] = Object.assign({}, meta, { t: this.timestamp });
    // The job keeps the parsed value as its data, as any BullMQ job.
    const data: unknown = this.data;
    if (data instanceof JsonData) this.data = null;
    // Set, not spread: adding to a spread copy is V8's slow path, once per job sent.
    const json = super.asJSON();
    if (data instanceof JsonData) {
      this.data = data.value;
      json.data = data.text;
    }
    json.opts = opts;
    return json;
  }
}

/** The BullMQ `Queue` the driver sends with: its `add` and `addBulk` store {@link StoredJob}s. */
export class SendQueue extends Queue {
  protected override get Job(): typeof Job {
    // The same class with one method overridden; TypeScript cannot relate its generic statics.
    return StoredJob as unknown as typeof Job;
  }
}
