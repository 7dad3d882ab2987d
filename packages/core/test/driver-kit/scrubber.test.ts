import { describe, expect, it } from 'vitest';
import { REDIS_CREDENTIAL_COMMANDS, Scrubber } from '../../src/driver-kit/index.js';

/** What ioredis attaches to a failed command: `command: { name, args }`, through its error links. */
function ioredisLikeError() {
  const auth = Object.assign(new Error('WRONGPASS invalid username-password pair'), {
    command: { name: 'auth', args: ['app', 'unknown-pw-1'] },
  });
  const hello = Object.assign(new Error('NOAUTH'), {
    command: { name: 'HELLO', args: ['3', 'AUTH', 'app', 'unknown-pw-2'] },
  });
  const get = Object.assign(new Error('MOVED'), { command: { name: 'get', args: ['key-1'] } });
  return Object.assign(new Error('connection failed', { cause: auth }), { previousErrors: [hello, get] });
}

describe('Scrubber credential commands', () => {
  it('masks every argument of Redis credential commands without knowing the password', () => {
    const error = new Scrubber([], { credentialCommands: true }).error(ioredisLikeError());
    const text = JSON.stringify([error.cause, error.previousErrors]);
    expect(text).not.toContain('unknown-pw-1');
    expect(text).not.toContain('unknown-pw-2');
    expect((error.cause as { command: { args: string[] } }).command.args).toEqual(['***', '***']);
    // Other commands keep their arguments.
    expect(error.previousErrors[1]?.command.args).toEqual(['key-1']);
    expect(REDIS_CREDENTIAL_COMMANDS).toContain('auth');
  });

  it('is off by default, and takes a list of command names', () => {
    const untouched = new Scrubber([]).error(ioredisLikeError());
    expect((untouched.cause as { command: { args: string[] } }).command.args).toContain('unknown-pw-1');
    const listed = new Scrubber([], { credentialCommands: ['hello'] }).error(ioredisLikeError());
    expect((listed.cause as { command: { args: string[] } }).command.args).toContain('unknown-pw-1');
    expect(listed.previousErrors[0]?.command.args).toEqual(['***', '***', '***', '***']);
  });

  it('still removes the known secrets of its URLs alongside', () => {
    const error = Object.assign(new Error('failed for redis://:known-pw-3@h'), {
      command: { name: 'auth', args: ['known-pw-3'] },
    });
    const clean = new Scrubber(['redis://:known-pw-3@h'], { credentialCommands: true }).error(error);
    expect(JSON.stringify({ message: clean.message, command: clean.command })).not.toContain('known-pw-3');
  });

  it("masks a copy: the arguments of the caller's error stay as they were", () => {
    const original = ioredisLikeError();
    const clean = new Scrubber([], { credentialCommands: true }).error(original);
    expect(clean).not.toBe(original);
    expect((original.cause as { command: { args: string[] } }).command.args).toEqual(['app', 'unknown-pw-1']);
    expect(original.previousErrors[0]?.command.args).toContain('unknown-pw-2');
    // The command without credentials is shared, not copied.
    expect(clean.previousErrors[1]).toBe(original.previousErrors[1]);
  });
});
