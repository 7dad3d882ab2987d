import {
  AuthenticationError,
  BrokerUnavailableError,
  errorMessage,
  LockLostError,
  QueuekitError,
  Scrubber,
} from '@queuekit/core';
import { ErrorCode } from 'bullmq';

/** Masks the arguments of `AUTH` / `HELLO` that ioredis attaches to its errors (`command.args`), in a copy. */
const credentials = new Scrubber([], { credentialCommands: true });

/** BullMQ's answers to a settle call of a consumer that no longer holds the job's lock. */
const LOCK_CODES = new Set<number>([
  ErrorCode.JobNotExist,
  ErrorCode.JobLockNotExist,
  ErrorCode.JobNotInState,
  ErrorCode.JobLockMismatch,
]);

const CONNECTION =
  /connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|max retries per request|stream isn't writeable/i;

/** Redis's replies to a wrong password or a missing one. */
const AUTH_FAILURE = /\bWRONGPASS\b|\bNOAUTH\b|invalid password/;

export function isAuthFailure(error: unknown): boolean {
  return AUTH_FAILURE.test(errorMessage(error));
}

/**
 * The queuekit error a BullMQ / ioredis error stands for, or `undefined` when it is none of them (the
 * caller wraps it as `DriverError`). `authRefused`: Redis refused the credentials on the last connection
 * attempt, so a connection that dropped since is an authentication failure. Never mentions the URL.
 */
export function classifyError(
  given: unknown,
  operation: string,
  authRefused = false,
): QueuekitError | undefined {
  try {
    // The scrubbed copy (the caller's error is left as it is).
    const error = credentials.error(given);
    if (QueuekitError.is(error)) return error;
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code === 'number' && LOCK_CODES.has(code))
      return new LockLostError(`Lock lost on ${operation}: another consumer may process it again`);
    const message = errorMessage(error);
    // No cause: ioredis's error carries the AUTH command and its arguments.
    if (isAuthFailure(error))
      return new AuthenticationError(
        'redis',
        `Redis refused the credentials during ${operation}: ${message}`,
      );
    if (!CONNECTION.test(message)) return undefined;
    if (authRefused) return new AuthenticationError('redis', `Redis refused the credentials (${operation})`);
    return new BrokerUnavailableError(`Redis unavailable during ${operation}: ${message}`, { cause: error });
  } catch {
    return undefined;
  }
}
