import { type ErrorCode, QueuekitError } from '@queuekit/core';
import { expect } from 'vitest';

/** A short, never-throwing description of a rejection value, for assertion messages. */
function describeValue(value: unknown): string {
  try {
    return value instanceof Error ? `${value.name}: ${value.message}` : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Assert that `promise` rejects with a queuekit error of `code` (one of `code`), checked by
 * `QueuekitError.is` so a driver built against another installed copy of core still passes. Resolves with it.
 */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: ErrorCode | readonly ErrorCode[],
): Promise<QueuekitError> {
  const outcome = await promise.then(
    () => ({ resolved: true as const }),
    (error: unknown) => ({ resolved: false as const, error }),
  );
  const wanted = typeof code === 'string' ? code : code.join(' or ');
  if (outcome.resolved) expect.fail(`expected a rejection with ${wanted}, but the call resolved`);
  const { error } = outcome as { error: unknown };
  expect(QueuekitError.is(error, code), `expected ${wanted}, got ${describeValue(error)}`).toBe(true);
  return error as QueuekitError;
}
