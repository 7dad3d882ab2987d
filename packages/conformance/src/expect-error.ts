import { type ErrorCode, type ErrorOfCode, QueuekitError } from '@queuekit/core';
import { expect } from 'vitest';

/**
 * Error checks of both suites. Every one goes through `QueuekitError.is`, never `instanceof`: a driver
 * (or a queue) built against another installed copy of core throws errors of that copy's classes.
 */

/** A short, never-throwing description of a thrown value, for assertion messages. */
function describeValue(value: unknown): string {
  try {
    return value instanceof Error ? `${value.name}: ${value.message}` : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

const wantedText = (code: ErrorCode | readonly ErrorCode[]) =>
  typeof code === 'string' ? code : code.join(' or ');

/** Assert that `value` is a queuekit error of `code` (one of `code`), and return it typed. */
export function expectError<C extends ErrorCode>(value: unknown, code: C | readonly C[]): ErrorOfCode<C> {
  expect(QueuekitError.is(value, code), `expected ${wantedText(code)}, got ${describeValue(value)}`).toBe(
    true,
  );
  return value as ErrorOfCode<C>;
}

/** Assert that `promise` rejects with a queuekit error of `code` (one of `code`). Resolves with it. */
export async function rejectsWith<C extends ErrorCode>(
  promise: Promise<unknown>,
  code: C | readonly C[],
): Promise<ErrorOfCode<C>> {
  const outcome = await promise.then(
    () => ({ resolved: true as const }),
    (error: unknown) => ({ resolved: false as const, error }),
  );
  if (outcome.resolved) expect.fail(`expected a rejection with ${wantedText(code)}, but the call resolved`);
  return expectError((outcome as { error: unknown }).error, code);
}

/** Assert that calling `run` throws a queuekit error of `code` (one of `code`). Returns it. */
export function throwsWith<C extends ErrorCode>(run: () => unknown, code: C | readonly C[]): ErrorOfCode<C> {
  try {
    run();
  } catch (error) {
    return expectError(error, code);
  }
  return expect.fail(`expected a throw of ${wantedText(code)}, but the call returned`);
}
