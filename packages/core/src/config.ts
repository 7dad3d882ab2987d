import type { BackoffOptions } from './backoff.js';
import { ConfigError } from './errors.js';
import type { ProcessOptions, QueueOptions, SendOptions } from './types.js';

const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;

function positiveInt(field: string, value: number | undefined, min = 1): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min)
    throw new ConfigError(field, `expected an integer ≥ ${min}, got ${String(value)}`);
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
  if (typeof backoff !== 'object' || backoff === null) throw new ConfigError(field, 'expected an object');
  if (backoff.type !== undefined && backoff.type !== 'fixed' && backoff.type !== 'exponential') {
    throw new ConfigError(`${field}.type`, `expected 'fixed' or 'exponential', got ${String(backoff.type)}`);
  }
  nonNegative(`${field}.delay`, backoff.delay);
  nonNegative(`${field}.maxDelay`, backoff.maxDelay);
  if (backoff.jitter !== undefined && !(backoff.jitter >= 0 && backoff.jitter <= 1)) {
    throw new ConfigError(`${field}.jitter`, `expected a number 0-1, got ${String(backoff.jitter)}`);
  }
}

/** Validate `createQueue` options. */
export function validateQueueOptions<T>(options: QueueOptions<T>): void {
  if (typeof options !== 'object' || options === null) throw new ConfigError('options', 'expected an object');
  if (typeof options.name !== 'string' || !QUEUE_NAME.test(options.name)) {
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
  positiveInt('defaults.maxAttempts', options.defaults?.maxAttempts);
  priority('defaults.priority', options.defaults?.priority);
  validateBackoff('defaults.backoff', options.defaults?.backoff);
  if (options.maxDelayHop !== undefined) positiveInt('maxDelayHop', options.maxDelayHop);
}

/** Validate the options of one send. */
export function validateSendOptions(options: SendOptions | undefined, field = 'options'): void {
  if (options === undefined) return;
  if (options.delay !== undefined && options.runAt !== undefined) {
    throw new ConfigError(`${field}.delay`, 'give either `delay` or `runAt`, not both');
  }
  nonNegative(`${field}.delay`, options.delay);
  if (
    options.runAt !== undefined &&
    (!(options.runAt instanceof Date) || Number.isNaN(options.runAt.getTime()))
  ) {
    throw new ConfigError(`${field}.runAt`, 'expected a valid Date');
  }
  priority(`${field}.priority`, options.priority);
  positiveInt(`${field}.maxAttempts`, options.maxAttempts);
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
  for (const [key, value] of Object.entries(options.headers ?? {})) {
    if (typeof value !== 'string')
      throw new ConfigError(`${field}.headers.${key}`, 'header values must be strings');
    if (key.startsWith('qk-') || key.toLowerCase() === 'content-type') {
      throw new ConfigError(`${field}.headers.${key}`, 'the `qk-` prefix and `content-type` are reserved');
    }
  }
}

/** Validate `process` options. */
export function validateProcessOptions(options: ProcessOptions | undefined): void {
  positiveInt('concurrency', options?.concurrency);
  positiveInt('lockDuration', options?.lockDuration, 100);
  if (options?.pollInterval !== undefined) positiveInt('pollInterval', options.pollInterval, 0);
}
