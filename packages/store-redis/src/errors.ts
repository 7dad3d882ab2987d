import { BrokerUnavailableError, errorMessage } from '@queuekit/core';

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

/**
 * Rethrow connection failures as {@link BrokerUnavailableError} naming `where` (a redacted
 * address, never the password); other errors pass through unchanged.
 */
export function translateError(error: unknown, where: string): never {
  if (isConnectionError(error)) {
    throw new BrokerUnavailableError(`Redis store at ${where} is unavailable: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  throw error;
}
