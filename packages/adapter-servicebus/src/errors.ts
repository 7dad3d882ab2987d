/**
 * SDK errors mapped to queuekit's typed errors. Messages never include the connection string.
 */
import { isServiceBusError } from '@azure/service-bus';
import {
  AuthenticationError,
  BrokerUnavailableError,
  DriverError,
  LockLostError,
  QueueClosedError,
  QueuekitError,
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
 * The queuekit error an SDK failure during `what` stands for (itself when it is already typed), or undefined
 * when the driver does not know it. With a scrubber, no text of the result (message, stack, cause) holds the
 * driver's secrets. Never throws, whatever it is given (the driver's `classifyError`).
 */
export function classifyError(
  error: unknown,
  what: string,
  scrubber?: Scrubber,
  broker = 'Service Bus',
): QueuekitError | undefined {
  try {
    if (QueuekitError.is(error)) return error;
    return classify(error, what, scrubber, broker);
  } catch {
    return undefined;
  }
}

/**
 * A failure no rule knows as a `DriverError` whose cause is a scrubbed copy: never the SDK's own object,
 * which reaches the connection context (and its connection string) through its fields. Never throws.
 */
export function unknownError(
  error: unknown,
  operation: string,
  provider: string,
  scrubber?: Scrubber,
): DriverError | undefined {
  try {
    const cause = safeCause(error, scrubber);
    return new DriverError(provider, operation, cause.message, { cause });
  } catch {
    return undefined;
  }
}

/** {@link classifyError}, else the SDK error itself (scrubbed): what the driver's own calls throw. */
export function mapError(error: unknown, what: string, scrubber?: Scrubber, broker = 'Service Bus'): Error {
  const typed = classifyError(error, what, scrubber, broker);
  if (typed) return typed;
  if (!(error instanceof Error)) return new Error(`${what} failed: ${clean(String(error), scrubber)}`);
  if (scrubber) {
    error.message = scrubber.scrub(error.message);
    if (error.stack) error.stack = scrubber.scrub(error.stack);
  }
  return error;
}

function classify(
  error: unknown,
  what: string,
  scrubber: Scrubber | undefined,
  broker: string,
): QueuekitError | undefined {
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
  return undefined;
}
