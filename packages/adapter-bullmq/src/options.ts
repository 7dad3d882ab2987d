import { ConfigError, MAX_DURATION_MS } from '@queuekit/core';
import type { RedisOptions } from 'ioredis';

/** Options of {@link BullmqDriver}. */
export interface BullmqDriverOptions {
  /**
   * `redis://[user:password@]host[:port][/db][?prefix=name]`, or `rediss://` for TLS.
   * Default `redis://127.0.0.1:6379`. Never logged.
   */
  readonly url?: string;
  /** Extra ioredis options, merged over those read from `url` (e.g. `tls` certificates). */
  readonly redis?: RedisOptions;
  /** BullMQ key prefix (`?prefix=` in the URL). Default `bull`, BullMQ's own default. */
  readonly prefix?: string;
  /**
   * Completed jobs BullMQ keeps (newest first) for dashboards. Default 0: a job is deleted when
   * its handler resolves. While a job is kept, a send with the same `jobId` is dropped.
   */
  readonly keepCompleted?: number;
  /**
   * How long (ms) a completed job is kept so that `queue.getJob(id)` can answer its state, progress
   * and result from BullMQ's own job data (BullMQ `removeOnComplete: { age }`). Default 24 h. While
   * a job is kept, a send with the same `jobId` is dropped. 0 deletes jobs on completion and leaves
   * job records to the core's store (the driver then declares no native `workflows.jobs`).
   */
  readonly keepCompletedMs?: number;
  /** BullMQ rate limiter applied by every consumer of this driver: at most `max` jobs per `duration` ms. */
  readonly limiter?: { readonly max: number; readonly duration: number };
  /** Largest encoded message accepted (body plus headers), in bytes. Default 10 MiB. */
  readonly maxPayloadBytes?: number;
  /**
   * How often (ms) the stalled-job check runs; it returns jobs whose lock expired to the queue.
   * Default: half the consumer's lock, between 250 ms and 30 s.
   */
  readonly stalledIntervalMs?: number;
  /**
   * Name of this driver's BullMQ workers (BullMQ `Worker` `name`): Bull Board's workers panel and
   * `Queue.getWorkers()` list each consumed queue's blocking connection under it. Letters, digits and
   * `-_.:@/`, at most 100 characters (a Redis client name has no spaces). Default: unnamed.
   */
  readonly workerName?: string;
  /**
   * Opt-in BullMQ metrics: completed and failed jobs counted per minute by the completion and failure
   * scripts (BullMQ `Worker` `metrics`), which Bull Board's metrics tab and `Queue.getMetrics()` read.
   * `true` keeps BullMQ's usual week of data points (10 080); `maxDataPoints` sets another number of
   * minutes. Costs a few Redis commands per job. Default: off.
   */
  readonly metrics?: boolean | { readonly maxDataPoints: number };
  /**
   * Background errors (connection drops, stalled-check failures). Errors of a call are thrown by
   * that call instead. Default: ignored.
   */
  readonly onError?: (error: Error) => void;
}

/** Connection settings read from a `redis://` / `rediss://` URL. */
export interface ParsedRedisUrl {
  readonly redis: RedisOptions;
  readonly prefix: string | undefined;
}

/** Parse a queue URL without ever echoing it (it may carry a password). */
export function parseRedisUrl(url: string): ParsedRedisUrl {
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
  if (scheme !== 'redis' && scheme !== 'rediss') {
    throw new ConfigError('url', `scheme "${scheme}" is not redis:// or rediss://`);
  }
  const redis: RedisOptions = {
    host: parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
  };
  if (parsed.username) redis.username = decodeLenient(parsed.username);
  if (parsed.password) redis.password = decodeLenient(parsed.password);
  const dbPath = parsed.pathname.replace(/^\//, '');
  if (dbPath !== '') {
    if (!/^\d+$/.test(dbPath)) throw new ConfigError('url', 'the path must be a database number, e.g. /0');
    redis.db = Number(dbPath);
  }
  if (scheme === 'rediss') redis.tls = { servername: redis.host };
  let prefix: string | undefined;
  for (const [key, value] of parsed.searchParams) {
    if (key === 'prefix') {
      if (value === '') throw new ConfigError('url', 'prefix must not be empty');
      prefix = value;
    } else {
      throw new ConfigError('url', `unknown query parameter "${key}" (supported: prefix)`);
    }
  }
  return { redis, prefix };
}

/** Percent-decode, keeping a lone `%` (a password that was never encoded) as it is. */
function decodeLenient(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** What a Redis client name can carry (no spaces), bounded. */
const WORKER_NAME = /^[\w.:@/-]{1,100}$/;

/** A week of one-minute data points: BullMQ's `MetricsTime.ONE_WEEK`. */
const DEFAULT_METRICS_POINTS = 7 * 24 * 60;

/** BullMQ's worker `metrics` option for the driver's `metrics`, or `undefined` when off. */
export function metricsOption(
  metrics: BullmqDriverOptions['metrics'],
): { readonly maxDataPoints: number } | undefined {
  if (metrics === undefined || metrics === false) return undefined;
  return metrics === true
    ? { maxDataPoints: DEFAULT_METRICS_POINTS }
    : { maxDataPoints: metrics.maxDataPoints };
}

/** Validate driver options, naming the offending field. */
export function validateOptions(options: BullmqDriverOptions): void {
  const positiveInt = (field: string, value: number | undefined, min = 1) => {
    if (value !== undefined && (!Number.isInteger(value) || value < min))
      throw new ConfigError(field, `must be an integer ≥ ${min}`);
  };
  // Node timers fire at once past 2^31 - 1 ms: a longer interval would be a busy loop.
  const timer = (field: string, value: number | undefined) => {
    positiveInt(field, value);
    if (value !== undefined && value > MAX_DURATION_MS)
      throw new ConfigError(field, `must be at most ${MAX_DURATION_MS} ms`);
  };
  positiveInt('keepCompleted', options.keepCompleted, 0);
  positiveInt('keepCompletedMs', options.keepCompletedMs, 0);
  positiveInt('maxPayloadBytes', options.maxPayloadBytes);
  timer('stalledIntervalMs', options.stalledIntervalMs);
  if (options.limiter) {
    positiveInt('limiter.max', options.limiter.max);
    timer('limiter.duration', options.limiter.duration);
  }
  if (typeof options.metrics === 'object')
    positiveInt('metrics.maxDataPoints', options.metrics.maxDataPoints);
  if (options.workerName !== undefined && !WORKER_NAME.test(options.workerName))
    throw new ConfigError('workerName', 'must be 1-100 letters, digits or -_.:@/ (no spaces)');
  if (options.prefix !== undefined && (options.prefix === '' || options.prefix.includes('{')))
    throw new ConfigError('prefix', 'must be a non-empty string');
}
