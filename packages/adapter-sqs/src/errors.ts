import { BrokerUnavailableError, errorMessage, LockLostError, QueuekitError } from '@queuekit/core';

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

/** Map an SDK error to a queuekit error where one fits; never includes URLs or credentials. */
export function mapError(error: unknown, action: string): Error {
  if (error instanceof QueuekitError) return error;
  if (isLockGone(error))
    return new LockLostError(`${action}: the message's receipt handle is no longer valid (lock lost)`);
  if (isNetwork(error))
    return new BrokerUnavailableError(`${action}: SQS could not be reached (${codeOf(error)})`, {
      cause: error,
    });
  return error instanceof Error ? error : new Error(`${action}: ${errorMessage(error)}`);
}
