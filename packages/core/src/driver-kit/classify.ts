import { DriverError, errorMessage, QueuekitError } from '../errors.js';

/**
 * A driver's error classifier: the queuekit error a vendor error stands for (`LockLostError` for an
 * expired receipt, `BrokerUnavailableError` for a refused connection...), or undefined when it does not
 * know (the kit then wraps the error in a {@link DriverError}). `operation` names the driver call.
 */
export type ErrorClassifier = (error: unknown, operation: string) => QueuekitError | undefined;

/** What the kit needs to type an error thrown by a driver call. */
export interface ClassifyContext {
  /** The driver's `provider`, named in a {@link DriverError}. */
  readonly provider: string;
  readonly classify?: ErrorClassifier | undefined;
  /** Applied to the message and cause of a {@link DriverError} (a `Scrubber.error`). */
  readonly scrub?: (<E>(error: E) => E) | undefined;
}

/**
 * `error` as a queuekit error: itself when it already is one (from any copy of core), else what the
 * classifier says, else a {@link DriverError} holding it as `cause`. Never throws, whatever the classifier does.
 */
export function classifyError(error: unknown, operation: string, context: ClassifyContext): QueuekitError {
  if (QueuekitError.is(error)) return error;
  let mapped: unknown;
  try {
    mapped = context.classify?.(error, operation);
  } catch {
    mapped = undefined;
  }
  if (QueuekitError.is(mapped)) return mapped;
  const cause = context.scrub ? context.scrub(error) : error;
  const wrapped = new DriverError(context.provider, operation, errorMessage(cause), { cause });
  return context.scrub ? context.scrub(wrapped) : wrapped;
}

/** Run `work` (sync or async) and reject with its error classified. */
export async function classified<T>(
  operation: string,
  context: ClassifyContext,
  work: () => T | Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw classifyError(error, operation, context);
  }
}
