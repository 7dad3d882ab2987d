import {
  AuthenticationError,
  BrokerUnavailableError,
  DriverError,
  errorMessage,
  LockLostError,
  QueuekitError,
} from '@queuekit/core';

type SdkError = { name?: unknown; Code?: unknown; code?: unknown; __type?: unknown; stack?: unknown } | null;

/** The error's name and codes, as one string for the rules below. */
function codeOf(error: unknown): string {
  const e = error as SdkError;
  return [e?.name, e?.Code, e?.code, e?.__type].filter((code) => typeof code === 'string').join(' ');
}

export const isQueueMissing = (error: unknown) => /QueueDoesNotExist|NonExistentQueue/i.test(codeOf(error));

/** SQS (and STS/IAM) refusing who we are, or no credentials at all: retrying will not help. */
const AUTH =
  /\b(InvalidClientTokenId|SignatureDoesNotMatch|UnrecognizedClientException|AccessDenied(Exception)?|ExpiredToken(Exception)?|MissingAuthenticationToken|IncompleteSignature|InvalidSecurity|CredentialsProviderError)\b/;
const LOCK_GONE = /ReceiptHandleIsInvalid|MessageNotInflight|InvalidReceiptHandle/i;
const NETWORK =
  /ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|TimeoutError|NetworkingError|socket hang up/i;

/**
 * A copy of an SDK error safe to hold as a `cause`. The SDK's own error keeps the raw HTTP response, whose socket
 * holds the signed request headers (session token, access key id): that object never leaves the driver.
 */
function safeCopy(error: unknown): Error {
  const e = error as SdkError & { $fault?: unknown; $metadata?: Record<string, unknown> };
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const number = (value: unknown) => (typeof value === 'number' ? value : undefined);
  const { httpStatusCode, requestId, attempts } = e?.$metadata ?? {};
  const copy = Object.assign(new Error(errorMessage(error)), {
    sqsCode: text(e?.Code) ?? text(e?.code),
    $fault: text(e?.$fault),
    $metadata: {
      httpStatusCode: number(httpStatusCode),
      requestId: text(requestId),
      attempts: number(attempts),
    },
  });
  copy.name = text(e?.name) ?? 'Error';
  copy.stack = text(e?.stack) ?? copy.stack;
  return copy;
}

/**
 * The queuekit error an SDK error met in `operation` stands for: itself when it is one, else
 * AuthenticationError, LockLostError (a receipt no longer valid), BrokerUnavailableError, or a DriverError
 * holding a safe copy. Never holds URLs, requests or credentials; never throws.
 */
export function classifyError(error: unknown, operation: string): QueuekitError {
  try {
    if (QueuekitError.is(error)) return error;
    const code = codeOf(error);
    if (AUTH.test(code))
      return new AuthenticationError(
        'SQS',
        `${operation}: SQS refused the credentials (${code}): ${errorMessage(error)}`,
      );
    if (LOCK_GONE.test(code))
      return new LockLostError(`${operation}: the message's receipt handle is no longer valid (lock lost)`);
    const cause = safeCopy(error);
    if (NETWORK.test(`${code} ${cause.message}`))
      return new BrokerUnavailableError(`${operation}: SQS could not be reached (${code})`, { cause });
    return new DriverError('sqs', operation, cause.message, { cause });
  } catch {
    return new DriverError('sqs', operation, 'an error that could not be read');
  }
}
