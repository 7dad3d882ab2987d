import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ConfigError,
  JobTimeoutError,
  LockLostError,
  QueuekitError,
  RetryAfterError,
  TimeoutError,
} from '../src/errors.js';

type ErrorsModule = typeof import('../src/errors.js');

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Another installed copy of core's errors, as a second version of the package would be: same code, other path. */
async function secondCopy(): Promise<ErrorsModule> {
  const dir = mkdtempSync(join(tmpdir(), 'queuekit-second-copy-'));
  dirs.push(dir);
  const target = join(dir, 'errors.ts');
  cpSync(fileURLToPath(new URL('../src/errors.ts', import.meta.url)), target);
  cpSync(fileURLToPath(new URL('../src/errors', import.meta.url)), join(dir, 'errors'), { recursive: true });
  return (await import(pathToFileURL(target).href)) as ErrorsModule;
}

describe('QueuekitError.is', () => {
  it('recognises errors made by another copy of core, where instanceof does not', async () => {
    const other = await secondCopy();
    expect(other.QueuekitError).not.toBe(QueuekitError);
    const lost = new other.LockLostError();
    expect(lost instanceof LockLostError).toBe(false);
    expect(QueuekitError.is(lost)).toBe(true);
    expect(QueuekitError.is(lost, 'ERR_LOCK_LOST')).toBe(true);
    expect(QueuekitError.is(lost, 'ERR_CONFIG')).toBe(false);
    expect(QueuekitError.is(lost, ['ERR_CONFIG', 'ERR_LOCK_LOST'])).toBe(true);
    expect(LockLostError.is(lost)).toBe(true);
    expect(ConfigError.is(lost)).toBe(false);
    // And the other way round: the second copy recognises ours.
    expect(other.QueuekitError.is(new ConfigError('url', 'bad'), 'ERR_CONFIG')).toBe(true);
  });

  it('narrows to the class of the code and follows subclasses by name', async () => {
    const other = await secondCopy();
    const retry: unknown = new other.RetryAfterError(250, { countsAsAttempt: true });
    if (!QueuekitError.is(retry, 'ERR_RETRY_AFTER')) throw new Error('expected a RetryAfterError');
    expect(retry.delayMs).toBe(250);
    expect(retry.countsAsAttempt).toBe(true);
    const timeout = new other.JobTimeoutError('j1', 100);
    expect(TimeoutError.is(timeout)).toBe(true);
    expect(JobTimeoutError.is(timeout)).toBe(true);
    expect(JobTimeoutError.is(new TimeoutError('plain'))).toBe(false);
    expect(RetryAfterError.is(new RetryAfterError(1))).toBe(true);
  });

  it('refuses look-alikes and hostile values without throwing', () => {
    expect(QueuekitError.is(Object.assign(new Error('x'), { code: 'ERR_LOCK_LOST' }))).toBe(false);
    expect(QueuekitError.is({ code: 'ERR_LOCK_LOST', name: 'LockLostError' })).toBe(false);
    expect(QueuekitError.is(null)).toBe(false);
    expect(QueuekitError.is('ERR_LOCK_LOST')).toBe(false);
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    );
    expect(QueuekitError.is(hostile)).toBe(false);
  });

  it('keeps the marker out of what an error shows', () => {
    const error = new LockLostError();
    expect(Object.getOwnPropertySymbols(error)).toEqual([]);
    expect(Object.getOwnPropertySymbols({ ...error })).toEqual([]);
    expect(JSON.stringify(error)).not.toContain('queuekit');
    expect(inspect(error)).not.toContain('queuekit.error');
  });
});
