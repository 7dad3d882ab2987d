/**
 * SDK errors mapped to queuekit's typed errors. Messages never include the connection string.
 */
import { isServiceBusError } from '@azure/service-bus';
import { BrokerUnavailableError, LockLostError, QueueClosedError, type QueuekitError } from '@queuekit/core';

const UNAVAILABLE = new Set(['ServiceCommunicationProblem', 'ServiceBusy', 'ServiceTimeout']);
/** Codes of core-amqp's MessagingError for a broker that cannot be reached. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'ETIMEDOUT',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ConnectionForcedError',
  'ServiceUnavailableError',
  'OperationTimeoutError',
  'ServerBusyError',
]);

/** Whether `error` is an abort (the receive's signal fired). */
export function isAbort(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'AbortError';
}

/** A queuekit error for an SDK failure during `what`, or the error itself when it is already typed. */
export function mapError(error: unknown, what: string): Error {
  if ((error as QueuekitError | null)?.code?.startsWith?.('ERR_')) return error as Error;
  if (isServiceBusError(error)) {
    if (error.code === 'MessageLockLost')
      return new LockLostError(`Lock lost during ${what}: ${error.message}`);
    if (UNAVAILABLE.has(error.code)) {
      return new BrokerUnavailableError(`Service Bus unavailable during ${what}: ${error.message}`, {
        cause: error,
      });
    }
  }
  const code = (error as { code?: string } | null)?.code ?? '';
  const message = (error as Error | null)?.message ?? '';
  if (UNREACHABLE_CODES.has(code) || /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH/.test(message)) {
    return new BrokerUnavailableError(`Service Bus unreachable during ${what} (${code || 'network error'})`, {
      cause: error,
    });
  }
  if (/closed/i.test((error as Error | null)?.message ?? '') && (error as Error).name !== 'ServiceBusError') {
    return new QueueClosedError(`The Service Bus client is closed (${what})`);
  }
  return error instanceof Error ? error : new Error(`${what} failed: ${String(error)}`);
}
