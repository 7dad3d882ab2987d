import { BrokerUnavailableError, errorMessage } from '@queuekit/core';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/** SQLSTATEs meaning the server cannot serve us now: class 08 (connection) and shutdowns. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** True when `error` means PostgreSQL could not be reached or dropped the connection. */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof AggregateError && error.errors.some(isConnectionError)) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|connection error and is not queryable/i.test(
    error.message,
  );
}

/**
 * Rethrow connection failures as {@link BrokerUnavailableError} naming `where` (a redacted address,
 * never the password); SQL errors pass through unchanged.
 */
export function translateError(error: unknown, where: string): never {
  if (isConnectionError(error)) {
    const detail = errorMessage(error) || (error as { code?: string }).code || 'connection failed';
    throw new BrokerUnavailableError(`PostgreSQL store at ${where} is unavailable: ${detail}`, {
      cause: error,
    });
  }
  throw error;
}
