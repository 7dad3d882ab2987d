import { AuthenticationError, BrokerUnavailableError, errorMessage, type Scrubber } from '@queuekit/core';
import { redactCredentialCommands } from './scrub.js';

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/** True when `error` means the Redis server could not be reached (as opposed to a command error). */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|connect ETIMEDOUT|enableOfflineQueue/i.test(error.message)
  );
}

/** Redis's replies to a wrong password or a missing one. */
const AUTH_FAILURE = /\bWRONGPASS\b|\bNOAUTH\b|invalid password/;

/**
 * Rethrow refused credentials as {@link AuthenticationError} and connection failures as
 * {@link BrokerUnavailableError}, naming `where` (`host:port`, never the password); other errors
 * pass through. Every error is first scrubbed of AUTH arguments and the `scrubber`'s secrets, through its causes.
 */
export function translateError(given: unknown, where: string, scrubber?: Scrubber): never {
  // Scrubbed copies: the caller's error (the client's own object) is never rewritten.
  const masked = redactCredentialCommands(given);
  const error = scrubber ? scrubber.error(masked) : masked;
  const message = errorMessage(error);
  // No cause: ioredis's error carries the AUTH command and its arguments.
  if (AUTH_FAILURE.test(message)) {
    throw new AuthenticationError('redis', `Redis store at ${where} refused the credentials: ${message}`);
  }
  if (isConnectionError(error)) {
    throw new BrokerUnavailableError(`Redis store at ${where} is unavailable: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  throw error;
}
