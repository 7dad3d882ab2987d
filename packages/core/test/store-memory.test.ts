import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore } from '../src/index.js';
import { until } from './helpers.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('MemoryStore', () => {
  it('keeps live state (no TTL, or an unexpired one) past 100,000 job records', async () => {
    const store = new MemoryStore();
    await store.set('qk:sched:q:def:nightly', { every: 60_000 });
    await store.increment('qk:fan:q:p1:done', 3, { ttlMs: 3_600_000 });
    await store.set('qk:rate:q:42', 7, { ttlMs: 3_600_000 });
    for (let i = 0; i < 150_000; i++)
      await store.merge(`qk:job:q:${i}`, { state: 'waiting' }, { ttlMs: 3_600_000 });
    expect(await store.get('qk:sched:q:def:nightly')).toEqual({ every: 60_000 });
    expect(await store.get('qk:fan:q:p1:done')).toBe(3);
    expect(await store.get('qk:rate:q:42')).toBe(7);
    expect(await store.get('qk:job:q:0')).toEqual({ state: 'waiting' });
    expect(store.size).toBe(150_003);
  });

  it('drops expired entries as it is written to, and only those', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_000_000);
    const store = new MemoryStore();
    await store.set('schedule', 1);
    for (let i = 0; i < 5_000; i++) await store.set(`short:${i}`, i, { ttlMs: 1_000 });
    await store.set('long', 1, { ttlMs: 10_000 });
    // A record whose TTL was pushed back by a later write must survive its first expiry.
    await store.merge('renewed', { a: 1 }, { ttlMs: 1_000 });
    vi.setSystemTime(1_000_500);
    await store.merge('renewed', { b: 2 }, { ttlMs: 1_000 });
    vi.setSystemTime(1_001_200);
    for (let i = 0; i < 1_000; i++) await store.set(`new:${i}`, i);
    expect(store.size).toBe(1 + 1 + 1 + 1_000);
    expect(await store.get('renewed')).toEqual({ a: 1, b: 2 });
    expect(await store.get('long')).toBe(1);
    expect(await store.get('schedule')).toBe(1);
    expect(await store.get('short:0')).toBeUndefined();
  });

  it('keys() finds every live key of a prefix, whatever its number of `:` segments', async () => {
    const store = new MemoryStore();
    for (const key of ['a', 'a:b', 'a:b:c', 'a:b:c:d', 'a:b:c:d:e', 'a:b:c:d:e:f', 'a:b:c:dd:e', 'a:b:x:d:e'])
      await store.set(key, 1);
    await store.set('a:b:c:d:gone', 1);
    await store.delete('a:b:c:d:gone');
    await store.set('a:b:c:d:expired', 1, { ttlMs: 1 });
    await until(async () => (await store.get('a:b:c:d:expired')) === undefined, 'the key to expire', 5_000);
    const sorted = async (prefix: string) => (await store.keys(prefix)).sort();
    expect(await sorted('a:b:c:d:')).toEqual(['a:b:c:d:e', 'a:b:c:d:e:f']);
    expect(await sorted('a:b:c:d')).toEqual(['a:b:c:d', 'a:b:c:d:e', 'a:b:c:d:e:f', 'a:b:c:dd:e']);
    expect(await sorted('a:b:c:d:e')).toEqual(['a:b:c:d:e', 'a:b:c:d:e:f']);
    expect(await sorted('a:b:')).toEqual([
      'a:b:c',
      'a:b:c:d',
      'a:b:c:d:e',
      'a:b:c:d:e:f',
      'a:b:c:dd:e',
      'a:b:x:d:e',
    ]);
    expect(await sorted('')).toHaveLength(8);
    expect(await sorted('a:b:c:d:e:f:')).toEqual([]);
  });

  it('merge keeps a __proto__ field as plain data, on a new key and on an existing one', async () => {
    const store = new MemoryStore();
    const patch = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    await store.merge('new', patch);
    await store.merge('old', { b: 2 });
    await store.merge('old', patch);
    for (const key of ['new', 'old']) {
      const value = (await store.get<Record<string, unknown>>(key)) as Record<string, unknown>;
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect((value as { polluted?: unknown }).polluted).toBeUndefined();
      expect(Object.getOwnPropertyDescriptor(value, '__proto__')?.value).toEqual({ polluted: true });
    }
  });

  it('keys() finds job records (kept out of the prefix index) and indexes only the other keys', async () => {
    const store = new MemoryStore();
    for (const key of ['qk:job:q:1', 'qk:job:q:2', 'qk:job:r:1', 'qk:sched:q:def:x'])
      await store.merge(key, { state: 'waiting' }, { ttlMs: 60_000 });
    expect((await store.keys('qk:job:q:')).sort()).toEqual(['qk:job:q:1', 'qk:job:q:2']);
    expect((await store.keys('qk:job:')).sort()).toEqual(['qk:job:q:1', 'qk:job:q:2', 'qk:job:r:1']);
    expect(await store.keys('qk:sched:q:def:')).toEqual(['qk:sched:q:def:x']);
    const buckets = (store as unknown as { buckets: Map<string, Set<string>> }).buckets;
    expect([...buckets.keys()]).toEqual(['qk:sched:q:def:']);
  });
});
