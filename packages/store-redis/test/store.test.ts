import { createHash, randomUUID } from 'node:crypto';
import { BrokerUnavailableError, ConfigError, QueueClosedError } from '@queuekit/core';
import { until } from '@queuekit/conformance';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore, type RedisStore } from '../src/index.js';
import { LuaScript } from '../src/scripts.js';
import { deleteUnder, REDIS_URL, rawClient, uniquePrefix } from './helpers.js';

describe('RedisStore layout and semantics', () => {
  const prefix = uniquePrefix();
  let store: RedisStore;
  let raw: Redis;

  beforeAll(() => {
    store = createRedisStore({ url: REDIS_URL, prefix });
    raw = rawClient();
  });

  afterAll(async () => {
    await deleteUnder(raw, prefix);
    await store.close();
    await raw.quit();
  });

  it('stores non-empty objects as hashes of JSON fields and scalars as JSON strings, under the prefix', async () => {
    await store.set('job:1', { state: 'active', progress: 0.5, tags: ['a'] });
    await store.set('count', 3);
    expect(await raw.type(`${prefix}job:1`)).toBe('hash');
    expect(await raw.hgetall(`${prefix}job:1`)).toEqual({
      state: '"active"',
      progress: '0.5',
      tags: '["a"]',
    });
    expect(await raw.get(`${prefix}count`)).toBe('3');
  });

  it('round-trips every JSON shape, including the empty object, null, arrays and a __proto__ field', async () => {
    const values: unknown[] = [{}, null, [], [1, { a: 2 }], 'text', 0, -1.25, true, { nested: {} }];
    for (const [i, value] of values.entries()) {
      await store.set(`shape:${i}`, value);
      expect(await store.get(`shape:${i}`)).toEqual(value);
    }
    const proto = JSON.parse('{"__proto__": {"polluted": true}, "x": 1}') as Record<string, unknown>;
    await store.set('proto', proto);
    const back = await store.get<Record<string, unknown>>('proto');
    expect(Object.hasOwn(back ?? {}, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('set replaces any previous value and its TTL; set without ttlMs makes the key persistent', async () => {
    await store.set('swap', { a: 1, b: 2 }, { ttlMs: 60_000 });
    await store.set('swap', 'plain');
    expect(await store.get('swap')).toBe('plain');
    expect(await raw.pttl(`${prefix}swap`)).toBe(-1);
    await store.set('swap', { only: true }, { ttlMs: 60_000 });
    expect(await store.get('swap')).toEqual({ only: true });
    expect(await raw.pttl(`${prefix}swap`)).toBeGreaterThan(0);
  });

  it('ifAbsent on scalars is SET NX PX: one concurrent winner, and the TTL is set', async () => {
    const wins = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.set('claim', `owner-${i}`, { ifAbsent: true, ttlMs: 60_000 }),
      ),
    );
    expect(wins.filter(Boolean)).toHaveLength(1);
    const pttl = await raw.pttl(`${prefix}claim`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it('merge with ttlMs resets the expiry; merge without keeps it', async () => {
    await store.merge('m', { a: 1 }, { ttlMs: 60_000 });
    await store.merge('m', { b: 2 });
    const kept = await raw.pttl(`${prefix}m`);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(60_000);
    await store.merge('m', { c: 3 }, { ttlMs: 600_000 });
    expect(await raw.pttl(`${prefix}m`)).toBeGreaterThan(60_000);
    expect(await store.get('m')).toEqual({ a: 1, b: 2, c: 3 });
  });

  it('merge replaces a non-object value, keeps the expiry of an empty object, and creates {} from an empty patch', async () => {
    await store.set('scalar', 42);
    await store.merge('scalar', { x: 1 });
    expect(await store.get('scalar')).toEqual({ x: 1 });
    await store.set('empty', {}, { ttlMs: 60_000 });
    await store.merge('empty', { y: 2 });
    expect(await store.get('empty')).toEqual({ y: 2 });
    expect(await raw.pttl(`${prefix}empty`)).toBeGreaterThan(0);
    await store.merge('fresh', {});
    expect(await store.get('fresh')).toEqual({});
  });

  it('mergeMany applies the merges in order, as merges one after the other would, in few commands', async () => {
    await store.set('mm:scalar', 42);
    await store.set('mm:empty', {}, { ttlMs: 60_000 });
    await store.merge('mm:kept', { a: 1 }, { ttlMs: 60_000 });
    const writes = [
      { key: 'mm:scalar', patch: { x: 1 } },
      { key: 'mm:empty', patch: { y: 2 } },
      { key: 'mm:kept', patch: { b: 'two', skipped: undefined } },
      { key: 'mm:fresh', patch: {} },
      { key: 'mm:ttl', patch: { n: 1 }, options: { ttlMs: 600_000 } },
      { key: 'mm:ttl', patch: { n: 2, m: [1] } },
      // More than one script call's worth.
      ...Array.from({ length: 450 }, (_, i) => ({ key: `mm:bulk:${i}`, patch: { i, state: 'waiting' } })),
    ];
    await store.mergeMany(writes);
    expect(await store.get('mm:scalar')).toEqual({ x: 1 });
    expect(await store.get('mm:empty')).toEqual({ y: 2 });
    expect(await raw.pttl(`${prefix}mm:empty`)).toBeGreaterThan(0);
    expect(await store.get('mm:kept')).toEqual({ a: 1, b: 'two' });
    const kept = await raw.pttl(`${prefix}mm:kept`);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(60_000);
    expect(await store.get('mm:fresh')).toEqual({});
    expect(await store.get('mm:ttl')).toEqual({ n: 2, m: [1] });
    expect(await raw.pttl(`${prefix}mm:ttl`)).toBeGreaterThan(60_000);
    expect(await store.get('mm:bulk:0')).toEqual({ i: 0, state: 'waiting' });
    expect(await store.get('mm:bulk:449')).toEqual({ i: 449, state: 'waiting' });
    await store.mergeMany([]);
  });

  it('increment applies ttlMs only at creation, handles floats, and restarts non-numbers from 0', async () => {
    expect(await store.increment('win', 1, { ttlMs: 60_000 })).toBe(1);
    expect(await store.increment('win', 1, { ttlMs: 600_000 })).toBe(2);
    expect(await raw.pttl(`${prefix}win`)).toBeLessThanOrEqual(60_000);
    expect(await store.increment('f', 0.5)).toBe(0.5);
    expect(await store.increment('f', 2)).toBe(2.5);
    await store.set('n', 1.5);
    expect(await store.increment('n')).toBe(2.5);
    await store.set('word', 'hello', { ttlMs: 60_000 });
    expect(await store.increment('word', 5)).toBe(5);
    expect(await raw.pttl(`${prefix}word`)).toBeGreaterThan(0);
    await store.set('obj', { a: 1 });
    expect(await store.increment('obj', -2)).toBe(-2);
    expect(await store.get('obj')).toBe(-2);
  });

  it('keys matches the prefix literally (glob characters are escaped)', async () => {
    await store.set('g*lob:1', 1);
    await store.set('gXlob:2', 2);
    await store.set('g?[x]:3', 3);
    expect(await store.keys('g*lob:')).toEqual(['g*lob:1']);
    expect(await store.keys('g?[x]')).toEqual(['g?[x]:3']);
  });

  it('loads a script with EVAL when the server does not know its SHA (NOSCRIPT)', async () => {
    const source = `-- ${prefix} never loaded before\nreturn redis.call('SET', KEYS[1], ARGV[1])`;
    const script = new LuaScript(source);
    const sha = createHash('sha1').update(source).digest('hex');
    expect(await raw.script('EXISTS', sha)).toEqual([0]);
    await script.run(raw, `${prefix}lua`, ['loaded']);
    expect(await raw.get(`${prefix}lua`)).toBe('loaded');
    expect(await raw.script('EXISTS', sha)).toEqual([1]);
  });

  it('reconnects by itself after the server drops its connection', async () => {
    const name = `qk-store-test-${randomUUID().slice(0, 8)}`;
    const other = createRedisStore({ url: REDIS_URL, prefix, redisOptions: { connectionName: name } });
    try {
      await other.set('before', 1);
      const list = String(await raw.client('LIST'));
      const id = list
        .split('\n')
        .find((line) => line.includes(`name=${name}`))
        ?.match(/\bid=(\d+)/)?.[1];
      expect(id).toBeDefined();
      expect(await raw.client('KILL', 'ID', id as string)).toBe(1);
      await until('the store to answer again', 10_000, () =>
        other.get('before').then(
          (value) => value === 1,
          () => false,
        ),
      );
    } finally {
      await other.close();
    }
  });

  it('a closed store rejects calls with QueueClosedError', async () => {
    const other = createRedisStore({ url: REDIS_URL, prefix });
    await other.close();
    await expect(other.get('anything')).rejects.toBeInstanceOf(QueueClosedError);
  });
});

describe('RedisStore connection handling', () => {
  it('an unreachable server gives BrokerUnavailableError without the password', async () => {
    const store = createRedisStore({ url: 'redis://user:s3cret-pw@127.0.0.1:1/0', prefix: uniquePrefix() });
    try {
      const failure = await store.get('x').then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(BrokerUnavailableError);
      const text = `${(failure as Error).message} ${(failure as Error).stack}`;
      expect(text).toContain('127.0.0.1:1');
      expect(text).not.toContain('s3cret-pw');
    } finally {
      await store.close();
    }
  });

  it('rejects a non-Redis URL with ConfigError, redacting it', () => {
    expect(() => createRedisStore({ url: 'amqp://u:s3cret-pw@host' })).toThrow(ConfigError);
    expect(() => createRedisStore({ url: 'amqp://u:s3cret-pw@host' })).not.toThrow(/s3cret-pw/);
    expect(() => createRedisStore({})).toThrow(ConfigError);
  });

  it('a borrowed client stays open after close()', async () => {
    const client = rawClient();
    const prefix = uniquePrefix();
    const store = createRedisStore({ client, prefix });
    await store.set('k', 1);
    await store.close();
    expect(await client.get(`${prefix}k`)).toBe('1');
    await deleteUnder(client, prefix);
    await client.quit();
  });
});
