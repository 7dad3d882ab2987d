import {
  AuthenticationError,
  BrokerUnavailableError,
  errorMessage,
  LockLostError,
  QueuekitError,
  Scrubber,
} from '@queuekit/core';
import { ErrorCode } from 'bullmq';

/**
 * Masks the arguments of Redis credential commands (`AUTH`, `HELLO`...) that ioredis attaches to its
 * errors as `command.args`, wherever the error holds them (`cause`, `previousErrors`...), in place.
 */
const credentials = new Scrubber([], { credentialCommands: true });

const LOCK_CODES = new Set<number>([
  ErrorCode.JobNotExist,
  ErrorCode.JobLockNotExist,
  ErrorCode.JobNotInState,
  ErrorCode.JobLockMismatch,
]);

/** Whether BullMQ refused a settle call because this consumer no longer holds the job's lock. */
export function isLockError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && LOCK_CODES.has(code);
}

const CONNECTION_PATTERNS = [
  /connection is closed/i,
  /ECONNREFUSED/,
  /ECONNRESET/,
  /ETIMEDOUT/,
  /max retries per request/i,
  /stream isn't writeable/i,
];

/** Redis's replies to a wrong password or a missing one. */
const AUTH_FAILURE = /\bWRONGPASS\b|\bNOAUTH\b|invalid password/;

/** Whether Redis refused the connection's credentials. */
export function isAuthFailure(error: unknown): boolean {
  return AUTH_FAILURE.test(errorMessage(error));
}

/** Map a BullMQ / ioredis error onto queuekit's typed errors (never mentions the URL). */
export function toQueuekitError(error: unknown, operation: string, jobId?: string): Error {
  credentials.error(error);
  if (QueuekitError.is(error)) return error;
  if (isLockError(error)) {
    return new LockLostError(
      `Lock lost on ${operation}${jobId ? ` of job ${jobId}` : ''}: another consumer may process it again`,
    );
  }
  const message = errorMessage(error);
  // No cause: ioredis's error carries the AUTH command and its arguments.
  if (isAuthFailure(error))
    return new AuthenticationError('redis', `Redis refused the credentials during ${operation}: ${message}`);
  if (CONNECTION_PATTERNS.some((pattern) => pattern.test(message))) {
    return new BrokerUnavailableError(`Redis unavailable during ${operation}: ${message}`, { cause: error });
  }
  return error instanceof Error ? error : new Error(message);
}
