import { inspect, types } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LockLostError, QueuekitError } from '../src/errors.js';
import { Scrubber, scrubError } from '../src/scrubber.js';

const SECRET = 'pa/SENTI %#NEL';
const URL_WITH_SECRET = `redis://app:${encodeURIComponent(SECRET)}@127.0.0.1:6379`;

function everything(value: unknown): string {
  return `${inspect(value, { depth: 30, showHidden: true })}\n${String(value)}`;
}

/** An error whose secrets sit in its message, a cause's cause, AggregateError.errors, a command and a cycle. */
function tangled() {
  const root = new Error(`WRONGPASS for ${SECRET}`);
  const inner = new TypeError(`Invalid URL: ${URL_WITH_SECRET}`);
  Object.assign(inner, { input: URL_WITH_SECRET, command: { name: 'auth', args: ['app', SECRET] } });
  const aggregate = new AggregateError([inner, new Error(encodeURIComponent(SECRET))], 'all failed');
  const wrapped = new Error('connect failed', { cause: aggregate });
  Object.assign(root, { cause: wrapped, previousErrors: [inner], self: root });
  return { root, inner, aggregate, wrapped };
}

describe('Scrubber.error removes secrets from an error and all it links to', () => {
  it('messages, stacks, causes, AggregateError.errors, client command arguments, cycles', () => {
    const { root } = tangled();
    expect(everything(root)).toContain('SENTI');

    const clean = new Scrubber([URL_WITH_SECRET]).error(root) as Error & Record<string, unknown>;
    expect(everything(clean)).not.toContain('SENTI');
    expect(clean.message).toBe('WRONGPASS for ***');
    const [inner] = clean.previousErrors as [TypeError & { command: { args: string[] } }];
    expect(inner.command.args).toEqual(['app', '***']);
    // Still errors of their classes, with the shape of the original (the cycle included).
    expect(clean).toBeInstanceOf(Error);
    expect(types.isNativeError(clean)).toBe(true);
    expect(inner).toBeInstanceOf(TypeError);
    expect(clean.self).toBe(clean);
    expect((clean.cause as Error).cause).toBeInstanceOf(AggregateError);
    expect(((clean.cause as Error).cause as AggregateError).errors[0]).toBe(inner);
    expect(Object.keys(clean)).toEqual(Object.keys(root));
  });

  it("leaves the caller's error and its cause chain untouched", () => {
    const { root, inner, aggregate, wrapped } = tangled();
    const before = everything(root);
    const clean = new Scrubber([URL_WITH_SECRET]).error(root);
    expect(clean).not.toBe(root);
    expect(everything(root)).toBe(before);
    expect(root.message).toBe(`WRONGPASS for ${SECRET}`);
    expect(root.cause).toBe(wrapped);
    expect(wrapped.cause).toBe(aggregate);
    expect(aggregate.errors[0]).toBe(inner);
    expect(inner.message).toBe(`Invalid URL: ${URL_WITH_SECRET}`);
    expect((inner as unknown as { command: { args: string[] } }).command.args).toEqual(['app', SECRET]);
  });

  it('copies only what leads to a secret, and keeps queuekit errors recognisable', () => {
    const client = { host: '127.0.0.1', options: { retries: 3 } };
    const error = Object.assign(new LockLostError(`lost at ${URL_WITH_SECRET}`), { client });
    const clean = scrubError(error, [URL_WITH_SECRET]);
    expect(clean.message).not.toContain('SENTI');
    expect(clean.client).toBe(client);
    expect(clean).toBeInstanceOf(LockLostError);
    expect(LockLostError.is(clean)).toBe(true);
    expect(QueuekitError.is(clean, 'ERR_LOCK_LOST')).toBe(true);
    expect(clean.code).toBe('ERR_LOCK_LOST');
  });

  it('reads getters and read-only fields into the copy, and returns errors without secrets as they are', () => {
    const error = new Error('plain');
    Object.defineProperty(error, 'detail', {
      get: () => `token ${SECRET}`,
      enumerable: true,
      configurable: true,
    });
    Object.defineProperty(error, 'fixed', { value: `fixed ${SECRET}`, writable: false, configurable: true });
    Object.defineProperty(error, 'broken', {
      get: () => {
        throw new Error('no');
      },
    });
    const clean = scrubError(error, [URL_WITH_SECRET]);
    expect(everything(clean)).not.toContain('SENTI');
    expect((clean as unknown as { detail: string }).detail).toBe('token ***');
    expect((error as unknown as { detail: string }).detail).toBe(`token ${SECRET}`);
    expect((error as unknown as { fixed: string }).fixed).toBe(`fixed ${SECRET}`);
    const untouched = new Error('nothing here');
    expect(scrubError(untouched, [URL_WITH_SECRET])).toBe(untouched);
    expect(scrubError('a string', [URL_WITH_SECRET])).toBe('a string');
    expect(scrubError(undefined, [URL_WITH_SECRET])).toBeUndefined();
  });
});
