/** SDK errors as queuekit's typed errors. No text of the result holds the connection strings' keys. */
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
import { foreignError } from '@queuekit/core/driver-kit';

/** What the mapping needs of the driver: its secrets, and the namespace as errors name it (`sb://HOST`). */
export interface ErrorContext {
  readonly scrubber: Scrubber;
  readonly broker: string;
}

/** ServiceBusError and core-amqp MessagingError codes of a broker that is busy or cannot be reached. */
const UNAVAILABLE = new Set([
  'ServiceCommunicationProblem',
  'ServiceBusy',
  'ServiceTimeout',
  'ConnectionForcedError',
  'ServiceUnavailableError',
  'OperationTimeoutError',
  'ServerBusyError',
]);
/** `@azure/identity` credentials that could not get a token. */
const CREDENTIAL_ERRORS = new Set([
  'AuthenticationError',
  'CredentialUnavailableError',
  'AggregateAuthenticationError',
]);
/**
 * Socket errors, as a code or quoted in a message whose code says nothing: a socket reset under a send is a
 * ServiceBusError 'GeneralError' quoting ECONNRESET; rhea-promise rejects a connect whose socket closed before
 * the AMQP open with a bare 'Failed to connect'.
 */
const NETWORK = /\b(ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH)\b|^Failed to connect$/;

/** The SDK's code of an error (a ServiceBusError's, a core-amqp MessagingError's, a RestError's); '' without one. */
function codeOf(error: unknown): string {
  return String((error as { code?: unknown } | null)?.code ?? '');
}

/** The broker lost the delivery's lock: final, no renewal or settlement of it can succeed. */
export function isLockLost(error: unknown): boolean {
  return codeOf(error) === 'MessageLockLost';
}

/** No such queue: the administration API's RestError (404), or the AMQP ServiceBusError. */
export function isEntityNotFound(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'MessageEntityNotFoundError' || code === 'MessagingEntityNotFound';
}

/** The queue exists already: the administration API's RestError (409), or the AMQP ServiceBusError. */
export function isEntityExisting(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'MessageEntityAlreadyExistsError' || code === 'MessagingEntityAlreadyExists';
}

/**
 * The queuekit error an SDK failure during `operation` stands for: itself when already typed, a `DriverError`
 * when no rule knows it. A cause is the kit's plain scrubbed copy: the SDK's error objects reach its connection
 * context, which holds the connection string, through their fields. Never throws (the driver's `classifyError`).
 */
export function classifyError(
  error: unknown,
  operation: string,
  { scrubber, broker }: ErrorContext,
): QueuekitError {
  if (QueuekitError.is(error)) return error;
  try {
    const cause = foreignError(error, (text) => scrubber.scrub(text));
    const code = codeOf(error);
    const name = (error as { name?: unknown } | null)?.name;
    // A key the namespace refuses (CBS put-token answered 401), or an Entra ID credential without a token.
    if ((isServiceBusError(error) && code === 'UnauthorizedAccess') || CREDENTIAL_ERRORS.has(String(name)))
      return new AuthenticationError(
        broker,
        `Service Bus (${broker}) refused the credentials during ${operation}: ${cause.message}`,
      );
    if (isServiceBusError(error) && isLockLost(error))
      return new LockLostError(`Lock lost during ${operation}: ${cause.message}`);
    if (UNAVAILABLE.has(code) || NETWORK.test(code) || NETWORK.test(cause.message)) {
      const reason = `${code || 'network error'}: ${cause.message}`;
      return new BrokerUnavailableError(`Service Bus unavailable during ${operation} (${reason})`, { cause });
    }
    if (/closed/i.test(cause.message) && name !== 'ServiceBusError')
      return new QueueClosedError(`The Service Bus client is closed (${operation})`);
    return new DriverError('servicebus', operation, cause.message, { cause });
  } catch {
    return new DriverError('servicebus', operation, 'an unreadable error');
  }
}
