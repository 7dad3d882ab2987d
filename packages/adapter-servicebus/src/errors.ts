/**
 * SDK errors mapped to queuekit's typed errors. Messages never include the connection string.
 */
import { isServiceBusError } from '@azure/service-bus';
import {
  AuthenticationError,
  BrokerUnavailableError,
  LockLostError,
  QueueClosedError,
  type QueuekitError,
  type Scrubber,
} from '@queuekit/core';

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

/** Errors of `@azure/identity` credentials that could not get a token. */
const CREDENTIAL_ERRORS = new Set([
  'AuthenticationError',
  'CredentialUnavailableError',
  'AggregateAuthenticationError',
]);

/** Socket errors as the SDK quotes them in a message whose code says nothing (`GeneralError`). */
const NETWORK_MESSAGE =
  /\b(ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH)\b|^Failed to connect$/;

/** Whether `error` is an abort (the receive's signal fired). */
export function isAbort(error: unknown): boolean {
  return (error as { name?: string } | null)?.name === 'AbortError';
}

/** The text a scrubber leaves of `text` (no scrubber: unchanged). */
function clean(text: string, scrubber: Scrubber | undefined): string {
  return scrubber ? scrubber.scrub(text) : text;
}

/**
 * A plain copy of an SDK error for a `cause`: name, code, message and stack, scrubbed. The SDK's error
 * objects can reach its connection context (which holds the connection string) through their fields.
 */
function safeCause(error: unknown, scrubber: Scrubber | undefined): Error {
  const source = error as { name?: string; code?: string; message?: string; stack?: string } | null;
  const copy = new Error(clean(String(source?.message ?? error), scrubber));
  copy.name = source?.name ?? 'Error';
  if (source?.stack) copy.stack = clean(source.stack, scrubber);
  if (typeof source?.code === 'string') Object.assign(copy, { code: source.code });
  return copy;
}

/**
 * A queuekit error for an SDK failure during `what`, or the error itself when it is already typed. With
 * a scrubber, no text of the result (message, stack, cause) holds the driver's secrets.
 */
export function mapError(error: unknown, what: string, scrubber?: Scrubber, broker = 'Service Bus'): Error {
  const mapped = classify(error, what, scrubber, broker);
  if (scrubber && mapped === error) {
    mapped.message = scrubber.scrub(mapped.message);
    if (mapped.stack) mapped.stack = scrubber.scrub(mapped.stack);
  }
  return mapped;
}

function classify(error: unknown, what: string, scrubber: Scrubber | undefined, broker: string): Error {
  if ((error as QueuekitError | null)?.code?.startsWith?.('ERR_')) return error as Error;
  // A key the namespace refuses (CBS put-token answered 401), or an Entra ID credential without a token.
  if (
    (isServiceBusError(error) && error.code === 'UnauthorizedAccess') ||
    CREDENTIAL_ERRORS.has((error as Error | null)?.name ?? '')
  ) {
    return new AuthenticationError(
      broker,
      `Service Bus (${broker}) refused the credentials during ${what}: ${clean((error as Error).message, scrubber)}`,
    );
  }
  if (isServiceBusError(error)) {
    if (error.code === 'MessageLockLost')
      return new LockLostError(`Lock lost during ${what}: ${clean(error.message, scrubber)}`);
    if (UNAVAILABLE.has(error.code)) {
      return new BrokerUnavailableError(
        `Service Bus unavailable during ${what}: ${clean(error.message, scrubber)}`,
        { cause: safeCause(error, scrubber) },
      );
    }
  }
  const code = (error as { code?: string } | null)?.code ?? '';
  const message = (error as Error | null)?.message ?? '';
  // rhea-promise rejects a connect whose socket closed before the AMQP open with a bare 'Failed to connect';
  // a socket reset under a send comes back as a ServiceBusError 'GeneralError' quoting ECONNRESET.
  if (UNREACHABLE_CODES.has(code) || NETWORK_MESSAGE.test(message)) {
    return new BrokerUnavailableError(`Service Bus unreachable during ${what} (${code || 'network error'})`, {
      cause: safeCause(error, scrubber),
    });
  }
  if (/closed/i.test((error as Error | null)?.message ?? '') && (error as Error).name !== 'ServiceBusError') {
    return new QueueClosedError(`The Service Bus client is closed (${what})`);
  }
  return error instanceof Error ? error : new Error(`${what} failed: ${clean(String(error), scrubber)}`);
}
