import { describe, expect, it } from 'vitest';
import { foreignError, foreignMessage } from '../../src/driver-kit/index.js';

const scrub = (text: string) => text.split('hunter2').join('***');

describe('foreignError', () => {
  it('copies name, scrubbed message and stack and a primitive code, through causes', () => {
    const socket = { password: 'hunter2' };
    const inner = Object.assign(new Error('inner hunter2'), { code: 'ECONNRESET', socket });
    const outer = Object.assign(new TypeError('login hunter2 refused', { cause: inner }), {
      code: 403,
      socket,
    });
    const copy = foreignError(outer, scrub);
    expect(copy).toBeInstanceOf(Error);
    expect(copy).toMatchObject({ name: 'TypeError', message: 'login *** refused', code: 403 });
    expect(copy.stack).not.toContain('hunter2');
    expect(copy.stack).toContain('login *** refused');
    expect(Object.keys(copy).sort()).toEqual(['code', 'name']);
    expect(copy.cause).toMatchObject({ message: 'inner ***', code: 'ECONNRESET' });
    expect(JSON.stringify(copy)).not.toContain('hunter2');
  });

  it('survives hostile getters, non-errors and cyclic causes', () => {
    const hostile = Object.defineProperty({}, 'message', {
      get() {
        throw new Error('no');
      },
    });
    expect(foreignError(hostile, scrub).message).toBe('[object Object]');
    expect(foreignError('plain hunter2', scrub)).toMatchObject({ message: 'plain ***', name: 'Error' });
    const cyclic: { message: string; cause?: unknown } = { message: 'loop' };
    cyclic.cause = cyclic;
    let depth = 0;
    for (let e: unknown = foreignError(cyclic, scrub); e; e = (e as Error).cause) depth++;
    expect(depth).toBe(9);
  });

  it('foreignMessage falls back when scrub throws', () => {
    expect(
      foreignMessage(new Error('x'), () => {
        throw new Error('scrub failed');
      }),
    ).toBe('[object Error]');
  });
});
