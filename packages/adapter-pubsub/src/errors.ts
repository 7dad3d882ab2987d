import {
  AuthenticationError,
  BrokerUnavailableError,
  errorMessage,
  type QueuekitError,
} from '@queuekit/core';
import { type ClassifyContext, classified } from '@queuekit/core/driver-kit';

/** gRPC status codes this driver tells apart. */
export const Status = {
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** The gRPC status code of an error, if it has one. */
export function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Pub/Sub said a topic or subscription does not exist (the error, or a cause it wraps, has NOT_FOUND). */
export function isNotFound(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < 4 && current != null; depth++) {
    if (statusOf(current) === Status.NOT_FOUND) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * The queuekit error a client failure during `operation` stands for, or undefined when the driver does
 * not know it (the kit then wraps it in a `DriverError`). Never throws, whatever it is given.
 */
export function classifyError(error: unknown, operation: string): QueuekitError | undefined {
  try {
    const code = statusOf(error);
    // Credentials Google refuses (or none found), or an identity without rights on the project.
    if (code === Status.UNAUTHENTICATED || code === Status.PERMISSION_DENIED)
      return new AuthenticationError(
        'Pub/Sub',
        `Pub/Sub refused the credentials during ${operation}: ${errorMessage(error)}`,
      );
    if (code === Status.UNAVAILABLE || code === Status.DEADLINE_EXCEEDED)
      return new BrokerUnavailableError(`Pub/Sub unreachable during ${operation}: ${errorMessage(error)}`, {
        cause: error,
      });
    return undefined;
  } catch {
    return undefined;
  }
}

const CONTEXT: ClassifyContext = { provider: 'pubsub', classify: classifyError };

/** Run a client call; it rejects only with a queuekit error (see {@link classifyError}). */
export function call<T>(operation: string, work: () => T | Promise<T>): Promise<T> {
  return classified(operation, CONTEXT, work);
}
