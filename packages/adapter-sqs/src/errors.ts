import {
  AuthenticationError,
  BrokerUnavailableError,
  errorMessage,
  LockLostError,
  QueuekitError,
} from '@queuekit/core';

function codeOf(error: unknown): string {
  const e = error as { name?: string; Code?: string; code?: string; __type?: string };
  return String(e?.name ?? e?.Code ?? e?.code ?? e?.__type ?? '');
}

/** The queue does not exist. */
export function isQueueMissing(error: unknown): boolean {
  return /QueueDoesNotExist|NonExistentQueue/i.test(codeOf(error));
}

/** A receipt handle is stale: the message was deleted or its visibility expired. */
export function isLockGone(error: unknown): boolean {
  return /ReceiptHandleIsInvalid|MessageNotInflight|InvalidReceiptHandle/i.test(codeOf(error));
}

/** An aborted request (our own signal). */
export function isAbort(error: unknown): boolean {
  return /AbortError/i.test(codeOf(error));
}

function isNetwork(error: unknown): boolean {
  const code = codeOf(error);
  return (
    /ECONNREFUSED|ECONNRESET|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|TimeoutError|NetworkingError/i.test(code) ||
    /ECONNREFUSED|ECONNRESET|ENOTFOUND|socket hang up/i.test(errorMessage(error))
  );
}

/** Request facts the SDK reports with an error (`$metadata`); none of them is a secret. */
export interface SqsErrorMetadata {
  readonly httpStatusCode?: number;
  readonly requestId?: string;
  readonly attempts?: number;
}

/**
 * An error from SQS or the AWS SDK, as the driver passes it on: name, message, stack, the
 * service's error code and the request metadata. The SDK's own error keeps the raw HTTP response
 * (non-enumerable `$response`), whose socket holds the signed request headers: the session token
 * and the access key id. That object never leaves the driver.
 */
export class SqsError extends Error {
  /** The service's or the SDK's error code, e.g. `AWS.SimpleQueueService.NonExistentQueue`, `ECONNREFUSED`. */
  readonly sqsCode: string | undefined;
  readonly $metadata: SqsErrorMetadata | undefined;
  readonly $fault: 'client' | 'server' | undefined;

  constructor(source: Error) {
    super(source.message);
    const e = source as { Code?: unknown; code?: unknown; $metadata?: unknown; $fault?: unknown };
    this.name = source.name;
    const code = e.Code ?? e.code;
    this.sqsCode = typeof code === 'string' ? code : undefined;
    const m = (e.$metadata ?? undefined) as Record<string, unknown> | undefined;
    this.$metadata =
      m === undefined
        ? undefined
        : {
            ...(typeof m.httpStatusCode === 'number' ? { httpStatusCode: m.httpStatusCode } : {}),
            ...(typeof m.requestId === 'string' ? { requestId: m.requestId } : {}),
            ...(typeof m.attempts === 'number' ? { attempts: m.attempts } : {}),
          };
    this.$fault = e.$fault === 'client' || e.$fault === 'server' ? e.$fault : undefined;
    if (source.stack) this.stack = source.stack;
  }
}

/** A copy of `error` that is safe to log, throw and chain as a `cause` (see {@link SqsError}). */
export function safeError(error: unknown): Error {
  if (error instanceof QueuekitError || error instanceof SqsError) return error;
  if (error instanceof Error) return new SqsError(error);
  return new Error(errorMessage(error));
}

/**
 * SQS (and AWS STS/IAM) refusing who we are, or the SDK finding no credentials at all: retrying will not
 * help. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html
 */
const AUTH_CODES =
  /^(InvalidClientTokenId|SignatureDoesNotMatch|UnrecognizedClientException|AccessDenied(Exception)?|ExpiredToken(Exception)?|MissingAuthenticationToken|IncompleteSignature|InvalidSecurity|CredentialsProviderError)$/;

/** Whether SQS refused the request's credentials (or there were none). */
export function isAuthFailure(error: unknown): boolean {
  const e = error as { name?: unknown; Code?: unknown; code?: unknown; __type?: unknown } | null;
  return [e?.name, e?.Code, e?.code, e?.__type].some(
    (code) => typeof code === 'string' && AUTH_CODES.test(code.replace(/^.*#/, '')),
  );
}

/** Map an SDK error to a queuekit error where one fits; never includes URLs, requests or credentials. */
export function mapError(error: unknown, action: string): Error {
  if (error instanceof QueuekitError) return error;
  if (isAuthFailure(error))
    return new AuthenticationError(
      'SQS',
      `${action}: SQS refused the credentials (${codeOf(error)}): ${errorMessage(error)}`,
    );
  if (isLockGone(error))
    return new LockLostError(`${action}: the message's receipt handle is no longer valid (lock lost)`);
  if (isNetwork(error))
    return new BrokerUnavailableError(`${action}: SQS could not be reached (${codeOf(error)})`, {
      cause: safeError(error),
    });
  return safeError(error);
}
