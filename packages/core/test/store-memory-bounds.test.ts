import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, createMemoryDriver, createQueue, MemoryBroker, MemoryStore } from '../src/index.js';
import { until } from './helpers.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('MemoryStore bounds', () => {
  it('drops the oldest finished records past maxEvictable, never live state', async () => {
    const store = new MemoryStore({ maxEvictable: 3 });
    await store.set('qk:sched:q:def:nightly', { every: 60_000 });
    await store.merge('live', { state: 'active' }, { ttlMs: 60_000, evictable: false });
    for (let i = 0; i < 5; i++) await store.merge(`done:${i}`, { state: 'completed' }, { evictable: true });
    expect(await store.get('done:0')).toBeUndefined();
    expect(await store.get('done:1')).toBeUndefined();
    expect(await store.get('done:4')).toEqual({ state: 'completed' });
    expect(await store.get('live')).toEqual({ state: 'active' });
    expect(await store.get('qk:sched:q:def:nightly')).toEqual({ every: 60_000 });
    // A record live again (redriven) is unmarked; a rewrite of a finished one makes it the newest.
    await store.merge('done:2', { state: 'waiting' }, { evictable: false });
    await store.merge('done:3', { progress: 1 });
    await store.merge('done:3', { state: 'failed' }, { evictable: true });
    for (let i = 5; i < 7; i++) await store.merge(`done:${i}`, { state: 'completed' }, { evictable: true });
    expect(await store.get('done:2')).toEqual({ state: 'waiting' });
    expect(await store.get('done:4')).toBeUndefined();
    expect(await store.get('done:3')).toEqual({ state: 'failed', progress: 1 });
    expect(store.size).toBe(2 + 1 + 3);
  });

  it('refuses a bound that is not a count', () => {
    expect(() => new MemoryStore({ maxEvictable: -1 })).toThrow(ConfigError);
    expect(() => new MemoryStore({ maxEvictable: 1.5 })).toThrow(ConfigError);
    expect(new MemoryStore({ maxEvictable: Number.POSITIVE_INFINITY })).toBeInstanceOf(MemoryStore);
  });

  it("bounds a worker's job records: the newest finished jobs answer getJob, the oldest are gone", async () => {
    const store = new MemoryStore({ maxEvictable: 5 });
    const queue = createQueue<number>({
      name: 'bounded-records',
      driver: createMemoryDriver({ broker: new MemoryBroker() }),
      ownsDriver: true,
      store,
    });
    const ids = await queue.sendBatch(Array.from({ length: 20 }, (_, i) => ({ name: 'n', data: i })));
    let done = 0;
    queue.process(async () => {
      done++;
    });
    await until(() => done === 20, 'every job');
    await until(
      async () => (await queue.getJob(ids[19] as string))?.state === 'completed',
      'the last record',
    );
    await queue.close();
    expect(await queue.getJob(ids[0] as string)).toBeUndefined();
    expect(store.size).toBe(5);
  });

  it('a record renewed by every write is swept after its last expiry, not its first', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(2_000_000);
    const store = new MemoryStore();
    for (let t = 0; t < 100; t++) {
      vi.setSystemTime(2_000_000 + t * 10);
      await store.merge('record', { t }, { ttlMs: 100 });
    }
    vi.setSystemTime(2_000_000 + 99 * 10 + 50);
    for (let i = 0; i < 40; i++) await store.set(`other:${i}`, i);
    expect(await store.get('record')).toEqual({ t: 99 });
    vi.setSystemTime(2_000_000 + 99 * 10 + 150);
    for (let i = 0; i < 40; i++) await store.set(`more:${i}`, i);
    expect(store.size).toBe(80); // swept by the writes, not only hidden from reads
  });

  it('hands out copies: a merged value cannot be changed from outside', async () => {
    const store = new MemoryStore();
    const patch = { nested: { n: 1 } };
    await store.merge('k', patch);
    patch.nested.n = 2;
    const got = await store.get<{ nested: { n: number } }>('k');
    if (got) got.nested.n = 3;
    await store.merge('k', { other: true });
    expect(await store.get('k')).toEqual({ nested: { n: 1 }, other: true });
  });
});

describe('MemoryStore marks', () => {
  it('a key marked finished again and again stays one record, however often', async () => {
    const store = new MemoryStore({ maxEvictable: 2 });
    for (let i = 0; i < 5_000; i++) await store.merge(`k:${i % 3}`, { i }, { evictable: true });
    expect(store.size).toBe(2);
    // The last marks: k:2 (4,997), k:0 (4,998), k:1 (4,999): the least recently marked went.
    expect(await store.get('k:2')).toBeUndefined();
    expect(await store.get('k:0')).toEqual({ i: 4_998 });
    expect(await store.get('k:1')).toEqual({ i: 4_999 });
  });
});
