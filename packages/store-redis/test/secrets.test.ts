import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../src/index.js';
import { rawClient, uniquePrefix } from './helpers.js';

// Sentinels as they come from base64 keys and password managers: `/`, `%`, `#` and spaces.
const USER = `qk-store-h6-${process.pid}`;
const PASSWORD = 'St0re/sentinel%pa#ss word+=';
const WRONG = 'Wr0ng/store%sentinel#x y';
const url = (password: string) => `redis://${USER}:${encodeURIComponent(password)}@127.0.0.1:6379`;
const deep = (value: unknown) => inspect(value, { depth: 10 });

function leaks(text: string, secret: string): string[] {
  const forms = [
    secret,
    encodeURIComponent(secret),
    secret.split('/')[0] as string,
    secret.split('/')[1] as string,
  ];
  return forms.filter((form) => text.includes(form));
}

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

beforeAll(async () => {
  const admin = rawClient();
  try {
    await admin.call('ACL', 'SETUSER', USER, 'reset', 'on', `>${PASSWORD}`, '~*', '&*', '+@all');
  } finally {
    admin.disconnect();
  }
});
afterAll(async () => {
  const admin = rawClient();
  try {
    await admin.call('ACL', 'DELUSER', USER);
  } finally {
    admin.disconnect();
  }
});

describe('RedisStore keeps secrets out of output', () => {
  it.each([
    ['a raw `/` in the password', 'redis://app:pa/ss-sentinel@127.0.0.1:6379', 'pa/ss-sentinel'],
    ['a bad port', 'redis://app:s3cret-sentinel@127.0.0.1:notaport', 's3cret-sentinel'],
    ['a space in the host', 'redis://app:s3cret-sentinel@bad host:6379', 's3cret-sentinel'],
    ['an unknown scheme', 'redis+x://app:s3cret-sentinel@127.0.0.1', 's3cret-sentinel'],
  ])('a bad URL (%s) is ConfigError("url") without the URL', (_, bad, secret) => {
    const error = thrown(() => createRedisStore({ url: bad }));
    expect(error).toMatchObject({ code: 'ERR_CONFIG', field: 'url' });
    expect(deep(error)).not.toContain(secret);
    expect(error).not.toHaveProperty('input');
  });

  it('the password with `/`, `%`, `#` and spaces authenticates, and the store never shows it', async () => {
    const store = createRedisStore({ url: url(PASSWORD), prefix: uniquePrefix() });
    try {
      expect(await store.increment('n')).toBe(1);
      expect(leaks(deep(store), PASSWORD)).toEqual([]);
      expect(leaks(JSON.stringify(store), PASSWORD)).toEqual([]);
      expect(leaks(String(store), PASSWORD)).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('a refused password is ERR_AUTH, and no error in the chain holds it', async () => {
    const store = createRedisStore({ url: url(WRONG), prefix: uniquePrefix() });
    try {
      const failure = await store.get('x').then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toMatchObject({ code: 'ERR_AUTH' });
      expect(leaks(deep(failure), WRONG)).toEqual([]);
      expect(leaks(String((failure as Error).stack), WRONG)).toEqual([]);
      expect(leaks(JSON.stringify(failure), WRONG)).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
