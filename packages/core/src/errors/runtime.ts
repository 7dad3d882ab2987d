/** Errors of a job's life: handler outcomes, locks, closing, timeouts. */
import { QueuekitError } from './base.js';

/** Throw from a handler to skip the remaining attempts: the job is dead-lettered at once. */
export class UnrecoverableError extends QueuekitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_UNRECOVERABLE', options);
  }
}

/**
 * Throw from a handler to run the job again after exactly `delayMs`. By default it does not count
 * against `maxAttempts`.
 */
export class RetryAfterError extends QueuekitError {
  /** Whether this retry uses up one of the job's attempts. Default false. */
  readonly countsAsAttempt: boolean;

  constructor(
    readonly delayMs: number,
    options: { message?: string; countsAsAttempt?: boolean } = {},
  ) {
    super(options.message ?? `Retry after ${delayMs} ms`, 'ERR_RETRY_AFTER');
    this.countsAsAttempt = options.countsAsAttempt ?? false;
  }
}

/** The job's lock expired or was taken by another consumer; its settlement was refused. */
export class LockLostError extends QueuekitError {
  constructor(message = 'Lock lost: the job may be processed again by another consumer') {
    super(message, 'ERR_LOCK_LOST');
  }
}

/** The queue (or driver) is closed. */
export class QueueClosedError extends QueuekitError {
  constructor(message = 'The queue is closed') {
    super(message, 'ERR_QUEUE_CLOSED');
  }
}

/** An operation did not finish in time. */
export class TimeoutError extends QueuekitError {
  constructor(message: string) {
    super(message, 'ERR_TIMEOUT');
  }
}

/**
 * A handler ran past the `timeout` given to `process()`: its `signal` is aborted with this error and the
 * attempt counts as failed (retried with backoff as usual). Code `ERR_TIMEOUT`, like every TimeoutError.
 */
export class JobTimeoutError extends TimeoutError {
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
  ) {
    super(`Job ${jobId} did not finish within its timeout of ${timeoutMs} ms`);
  }
}
