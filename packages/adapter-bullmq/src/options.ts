import { ConfigError, MAX_DURATION_MS, type RateLimit } from '@queuekit/core';
import { param, parseParams } from '@queuekit/core/driver-kit';
import type { RedisOptions } from 'ioredis';

/** Options of {@link BullmqDriver}. */
export interface BullmqDriverOptions {
  /** `redis://[user:password@]host[:port][/db][?prefix=name]`, or `rediss://` for TLS. Never logged. */
  readonly url?: string;
  /** Extra ioredis options, merged over those read from `url` (e.g. `tls` certificates). */
  readonly redis?: RedisOptions;
  /** BullMQ key prefix (`?prefix=` in the URL). Default `bull`, BullMQ's own default. */
  readonly prefix?: string;
  /** Also cap the completed jobs kept to this many (BullMQ `removeOnComplete.count`). Default 0: no cap. */
  readonly keepCompleted?: number;
  /**
   * How long (ms) a completed job is kept so that `queue.getJob(id)` can answer from BullMQ's own job data.
   * Default 24 h. While a job is kept, a send with the same `jobId` is dropped. 0 deletes jobs on
   * completion and leaves job records to the core's store (no native `workflows.jobs`).
   */
  readonly keepCompletedMs?: number;
  /** BullMQ rate limiter applied by every consumer of this driver: at most `max` jobs per `duration` ms. */
  readonly limiter?: { readonly max: number; readonly duration: number };
  /** Largest encoded message accepted (body plus headers), in bytes. Default 10 MiB. */
  readonly maxPayloadBytes?: number;
  /** How often (ms) expired locks are looked for. Default: half the consumer's lock, 250 ms to 30 s. */
  readonly stalledIntervalMs?: number;
  /** Name of the driver's BullMQ workers (Bull Board's workers panel); a Redis client name, no spaces. */
  readonly workerName?: string;
  /** Opt-in BullMQ metrics (Bull Board's metrics tab): `true` keeps a week of per-minute points. */
  readonly metrics?: boolean | { readonly maxDataPoints: number };
  /** Background errors (connection drops, stalled-check failures). Default: ignored. */
  readonly onError?: (error: Error) => void;
}

const URL_PARAMS = { prefix: param.string({ pattern: /^.+$/s }) };

/** Parse a queue URL without ever echoing it (it may carry a password). */
export function parseRedisUrl(url: string): { redis: RedisOptions; prefix: string | undefined } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(
      'url',
      'not a valid URL; expected redis://host:port/db or rediss://host:port/db (percent-encode `/`, `#`, `%`, `@` in the password)',
    );
  }
  const scheme = parsed.protocol.replace(/:$/, '').toLowerCase();
  if (scheme !== 'redis' && scheme !== 'rediss')
    throw new ConfigError('url', `scheme "${scheme}" is not redis:// or rediss://`);
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const redis: RedisOptions = { host, port: parsed.port ? Number(parsed.port) : 6379 };
  if (parsed.username) redis.username = decodeLenient(parsed.username);
  if (parsed.password) redis.password = decodeLenient(parsed.password);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db))
    throw new ConfigError('url', 'the path must be a database number, e.g. /0');
  if (db !== '') redis.db = Number(db);
  if (scheme === 'rediss') redis.tls = { servername: host };
  const { prefix } = parseParams(parsed.searchParams, URL_PARAMS, { fieldPrefix: 'url.' });
  return { redis, prefix };
}

/** Percent-decode, keeping a lone `%` (a password that was never encoded) as it is. */
export function decodeLenient(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A week of one-minute data points: BullMQ's `MetricsTime.ONE_WEEK`. */
const WEEK_OF_MINUTES = 7 * 24 * 60;
// Node timers fire at once past 2^31 - 1 ms: a longer interval would be a busy loop.
const timer = param.int({ min: 1, max: MAX_DURATION_MS });
const OPTION_PARAMS = {
  keepCompleted: param.int({ min: 0, default: 0 }),
  keepCompletedMs: param.int({ min: 0, default: 24 * 60 * 60 * 1000 }),
  maxPayloadBytes: param.int({ min: 1, default: 10 * 1024 * 1024 }),
  stalledIntervalMs: timer,
  workerName: param.string({ pattern: /^[\w.:@/-]{1,100}$/ }),
  prefix: param.string({ pattern: /^[^{]+$/ }),
} as const;
const METRICS_PARAMS = { maxDataPoints: param.int({ min: 1 }) };

export type ResolvedOptions = ReturnType<typeof resolveOptions>;

/** The options checked (a `ConfigError` names the field) with their defaults. */
export function resolveOptions(options: BullmqDriverOptions) {
  const { url: _url, redis: _redis, limiter, metrics, onError: _onError, ...rest } = options;
  const parsed = parseParams(rest, OPTION_PARAMS);
  const limit =
    limiter &&
    parseParams(limiter, { max: param.int({ min: 1 }), duration: timer }, { fieldPrefix: 'limiter.' });
  // Both are needed: BullMQ would take a limiter missing one unchecked.
  for (const field of ['max', 'duration'] as const)
    if (limit && limit[field] === undefined) throw new ConfigError(`limiter.${field}`, 'required');
  const points =
    typeof metrics === 'object'
      ? parseParams(metrics, METRICS_PARAMS, { fieldPrefix: 'metrics.' }).maxDataPoints
      : metrics && WEEK_OF_MINUTES;
  const count = parsed.keepCompleted > 0 ? { count: parsed.keepCompleted } : undefined;
  const age = Math.ceil(parsed.keepCompletedMs / 1000);
  return {
    ...parsed,
    limiter: limit as RateLimit | undefined,
    metrics: points ? { maxDataPoints: points } : undefined,
    /** BullMQ's `removeOnComplete` of the jobs sent: one frozen value, shared by them all. */
    removeOnComplete: Object.freeze(age > 0 ? { age, ...count } : (count ?? true)),
  };
}
