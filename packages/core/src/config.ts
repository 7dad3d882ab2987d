import type { BackoffOptions } from './semantics/backoff.js';
import { ConfigError } from './errors.js';
import { HEADER_BOUNDS } from './headers.js';
import type { ProcessOptions, QueueOptions, SendOptions } from './types.js';

const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

/**
 * Longest duration (ms) accepted in configuration: 2^31-1, about 24.8 days, the largest delay a
 * JavaScript timer honours (a longer one fires after 1 ms, turning waits into busy loops).
 */
export const MAX_DURATION_MS = 2_147_483_647;

/** A valid queue name: 1-80 letters, digits, `.`, `_` or `-`, starting with a letter or digit. */
export function isQueueName(name: unknown): name is string {
  return typeof name === 'string' && QUEUE_NAME.test(name);
}

/** Refuse a duration past {@link MAX_DURATION_MS}, naming the field. */
export function maxDuration(field: string, value: number | undefined): void {
  if (value !== undefined && value > MAX_DURATION_MS)
    throw new ConfigError(field, `at most ${MAX_DURATION_MS} ms (about 24.8 days), got ${String(value)}`);
}

/** The keys each options object takes: any other is a typo or a misplaced option, refused rather than ignored. */
const KNOWN = {
  queue: new Set([
    'name',
    'url',
    'driver',
    'ownsDriver',
    'schema',
    'codec',
    'defaults',
    'strict',
    'maxDelayHop',
    'store',
    'results',
    'rateLimit',
  ]),
  defaults: new Set(['maxAttempts', 'backoff', 'priority']),
  backoff: new Set(['type', 'delay', 'maxDelay', 'jitter']),
  send: new Set(['delay', 'runAt', 'priority', 'maxAttempts', 'backoff', 'jobId', 'orderingKey', 'headers']),
  process: new Set(['concurrency', 'lockDuration', 'pollInterval', 'trustMessageBackoff', 'timeout']),
} as const;

/**
 * Refuse what is not an options object, and any key it does not take (`{ concurency: 10 }` would
 * otherwise run one job at a time without a word). `field` is the object's own name ('' at the top).
 */
export function knownOptions(field: string, options: unknown, known: ReadonlySet<string>): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new ConfigError(field || 'options', 'expected an object');
  for (const key in options) {
    if (Object.hasOwn(options, key) && !known.has(key))
      throw new ConfigError(
        field ? `${field}.${key}` : key,
        `unknown option (expected one of ${[...known].map((k) => `\`${k}\``).join(', ')})`,
      );
  }
}

function positiveInt(field: string, value: number | undefined, min = 1): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min)
    throw new ConfigError(field, `expected an integer ≥ ${min}, got ${String(value)}`);
}

/** `maxAttempts`: 1..HEADER_BOUNDS.maxAttempts (a consumer ignores a larger `qk-max-attempts` as forged). */
function maxAttempts(field: string, value: number | undefined): void {
  positiveInt(field, value);
  if (value !== undefined && value > HEADER_BOUNDS.maxAttempts)
    throw new ConfigError(field, `at most ${HEADER_BOUNDS.maxAttempts}, got ${String(value)}`);
}

function nonNegative(field: string, value: number | undefined): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ConfigError(field, `expected a finite number ≥ 0, got ${String(value)}`);
  }
}

function priority(field: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < 0 || value > 9)
    throw new ConfigError(field, `expected an integer 0-9, got ${String(value)}`);
}

/** Validate a backoff policy; `field` prefixes the names in errors. */
export function validateBackoff(field: string, backoff: BackoffOptions | undefined): void {
  if (backoff === undefined) return;
  knownOptions(field, backoff, KNOWN.backoff);
  if (backoff.type !== undefined && backoff.type !== 'fixed' && backoff.type !== 'exponential') {
    throw new ConfigError(`${field}.type`, `expected 'fixed' or 'exponential', got ${String(backoff.type)}`);
  }
  nonNegative(`${field}.delay`, backoff.delay);
  nonNegative(`${field}.maxDelay`, backoff.maxDelay);
  maxDuration(`${field}.delay`, backoff.delay);
  maxDuration(`${field}.maxDelay`, backoff.maxDelay);
  if (backoff.jitter !== undefined && !(backoff.jitter >= 0 && backoff.jitter <= 1)) {
    throw new ConfigError(`${field}.jitter`, `expected a number 0-1, got ${String(backoff.jitter)}`);
  }
}

/** Validate `createQueue` options. */
export function validateQueueOptions<T>(options: QueueOptions<T>): void {
  knownOptions('', options, KNOWN.queue);
  if (options.defaults !== undefined) knownOptions('defaults', options.defaults, KNOWN.defaults);
  if (!isQueueName(options.name)) {
    throw new ConfigError(
      'name',
      'expected 1-80 letters, digits, `.`, `_` or `-`, starting with a letter or digit',
    );
  }
  if (options.url !== undefined && options.driver !== undefined)
    throw new ConfigError('url', 'give either `url` or `driver`, not both');
  if (options.url !== undefined && (typeof options.url !== 'string' || options.url.trim() === '')) {
    throw new ConfigError('url', 'expected a non-empty string');
  }
  if (options.schema !== undefined && typeof options.schema?.['~standard']?.validate !== 'function') {
    throw new ConfigError('schema', 'expected a Standard Schema (zod, valibot, arktype...)');
  }
  if (
    options.codec !== undefined &&
    (typeof options.codec.encode !== 'function' || typeof options.codec.decode !== 'function')
  ) {
    throw new ConfigError('codec', 'expected an object with encode() and decode()');
  }
  maxAttempts('defaults.maxAttempts', options.defaults?.maxAttempts);
  priority('defaults.priority', options.defaults?.priority);
  validateBackoff('defaults.backoff', options.defaults?.backoff);
  if (options.maxDelayHop !== undefined) positiveInt('maxDelayHop', options.maxDelayHop);
  maxDuration('maxDelayHop', options.maxDelayHop);
  validateRateLimit(options.rateLimit);
}

/** Validate `rateLimit`: an integer `max` ≥ 1 per `duration` ms (1 ms to {@link MAX_DURATION_MS}). */
export function validateRateLimit(
  limit: { readonly max: number; readonly duration: number } | undefined,
): void {
  if (limit === undefined) return;
  if (typeof limit !== 'object' || limit === null)
    throw new ConfigError('rateLimit', 'expected { max, duration }');
  if (!Number.isInteger(limit.max) || limit.max < 1)
    throw new ConfigError('rateLimit.max', 'expected an integer ≥ 1');
  if (!Number.isInteger(limit.duration) || limit.duration < 1)
    throw new ConfigError('rateLimit.duration', 'expected an integer ≥ 1 (ms)');
  maxDuration('rateLimit.duration', limit.duration);
}

/** Validate the options of one send. */
export function validateSendOptions(options: SendOptions | undefined, field = 'options'): void {
  if (options === undefined) return;
  knownOptions(field, options, KNOWN.send);
  if (options.delay !== undefined && options.runAt !== undefined) {
    throw new ConfigError(`${field}.delay`, 'give either `delay` or `runAt`, not both');
  }
  nonNegative(`${field}.delay`, options.delay);
  const years = HEADER_BOUNDS.maxDelayMs / (365 * 24 * 3_600_000);
  if (options.delay !== undefined && options.delay > HEADER_BOUNDS.maxDelayMs)
    throw new ConfigError(`${field}.delay`, `at most ${years} years (${HEADER_BOUNDS.maxDelayMs} ms)`);
  if (
    options.runAt !== undefined &&
    (!(options.runAt instanceof Date) || Number.isNaN(options.runAt.getTime()))
  ) {
    throw new ConfigError(`${field}.runAt`, 'expected a valid Date');
  }
  if (options.runAt !== undefined && options.runAt.getTime() - Date.now() > HEADER_BOUNDS.maxDelayMs)
    throw new ConfigError(`${field}.runAt`, `at most ${years} years ahead`);
  priority(`${field}.priority`, options.priority);
  maxAttempts(`${field}.maxAttempts`, options.maxAttempts);
  validateBackoff(`${field}.backoff`, options.backoff);
  if (
    options.jobId !== undefined &&
    (typeof options.jobId !== 'string' || options.jobId === '' || options.jobId.length > 128)
  ) {
    throw new ConfigError(`${field}.jobId`, 'expected a string of 1-128 characters');
  }
  if (
    options.orderingKey !== undefined &&
    (typeof options.orderingKey !== 'string' || options.orderingKey === '')
  ) {
    throw new ConfigError(`${field}.orderingKey`, 'expected a non-empty string');
  }
  validateHeaders(options.headers, `${field}.headers`);
}

/**
 * User headers: string values; names not starting with `qk-` nor equal to `content-type` (any case),
 * nor in `reserved` (names the driver interprets, compared case-insensitively).
 */
export function validateHeaders(
  headers: Readonly<Record<string, string>> | undefined,
  field = 'options.headers',
  reserved: readonly string[] = [],
): void {
  if (headers === undefined) return;
  if (typeof headers !== 'object' || headers === null) throw new ConfigError(field, 'expected an object');
  const taken = reserved.length > 0 ? new Set(reserved.map((name) => name.toLowerCase())) : undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (typeof value !== 'string') throw new ConfigError(`${field}.${key}`, 'header values must be strings');
    const lower = key.toLowerCase();
    // Drivers copy headers into plain objects: `obj['__proto__'] = v` would replace a prototype.
    if (key === '' || lower === '__proto__')
      throw new ConfigError(`${field}.${key}`, 'expected a non-empty header name other than `__proto__`');
    if (lower.startsWith('qk-') || lower === 'content-type') {
      throw new ConfigError(`${field}.${key}`, 'the `qk-` prefix and `content-type` are reserved (any case)');
    }
    if (taken?.has(lower))
      throw new ConfigError(`${field}.${key}`, 'this header name is reserved by the driver');
  }
}

/** Validate `process` options. */
export function validateProcessOptions(options: ProcessOptions | undefined): void {
  if (options !== undefined) knownOptions('', options, KNOWN.process);
  positiveInt('concurrency', options?.concurrency);
  positiveInt('lockDuration', options?.lockDuration, 100);
  maxDuration('lockDuration', options?.lockDuration);
  if (options?.pollInterval !== undefined) positiveInt('pollInterval', options.pollInterval, 0);
  maxDuration('pollInterval', options?.pollInterval);
  if (options?.trustMessageBackoff !== undefined && typeof options.trustMessageBackoff !== 'boolean')
    throw new ConfigError('trustMessageBackoff', 'expected a boolean');
}
