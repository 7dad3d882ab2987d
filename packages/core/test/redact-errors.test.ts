import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Scrubber, scrubError } from '../src/scrubber.js';

const SECRET = 'pa/SENTI %#NEL';
const URL_WITH_SECRET = `redis://app:${encodeURIComponent(SECRET)}@127.0.0.1:6379`;

function everything(value: unknown): string {
  return `${inspect(value, { depth: 30, showHidden: true })}\n${String(value)}`;
}

describe('Scrubber.error removes secrets from an error and all it links to', () => {
  it('messages, stacks, causes, AggregateError.errors, client command arguments, cycles', () => {
    const root = new Error(`WRONGPASS for ${SECRET}`);
    const inner = new TypeError(`Invalid URL: ${URL_WITH_SECRET}`);
    Object.assign(inner, { input: URL_WITH_SECRET, command: { name: 'auth', args: ['app', SECRET] } });
    const aggregate = new AggregateError([inner, new Error(encodeURIComponent(SECRET))], 'all failed');
    const wrapped = new Error('connect failed', { cause: aggregate });
    Object.assign(root, { cause: wrapped, previousErrors: [inner], self: root });
    expect(everything(root)).toContain('SENTI');

    expect(new Scrubber([URL_WITH_SECRET]).error(root)).toBe(root);
    expect(everything(root)).not.toContain('SENTI');
    expect(root.message).toBe('WRONGPASS for ***');
    expect((inner as unknown as { command: { args: string[] } }).command.args).toEqual(['app', '***']);
  });

  it('rewrites getters and read-only fields, and leaves errors without secrets alone', () => {
    const error = new Error('plain');
    Object.defineProperty(error, 'detail', {
      get: () => `token ${SECRET}`,
      enumerable: true,
      configurable: true,
    });
    Object.defineProperty(error, 'fixed', { value: `fixed ${SECRET}`, writable: false, configurable: true });
    scrubError(error, [URL_WITH_SECRET]);
    expect(everything(error)).not.toContain('SENTI');
    expect((error as unknown as { detail: string }).detail).toBe('token ***');
    const untouched = new Error('nothing here');
    expect(scrubError(untouched, [URL_WITH_SECRET]).message).toBe('nothing here');
    expect(scrubError('a string', [URL_WITH_SECRET])).toBe('a string');
    expect(scrubError(undefined, [URL_WITH_SECRET])).toBeUndefined();
  });
});
