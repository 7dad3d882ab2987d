import { describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue, MemoryBroker, MemoryStore } from '../src/index.js';
import { until } from './helpers.js';

describe('MemoryStore: records of finished jobs are bounded by count', () => {
  it('drops the oldest evictable entries beyond maxEvictable, never the others', async () => {
    const store = new MemoryStore({ maxEvictable: 3 });
    await store.set('qk:sched:q:def:nightly', { every: 60_000 });
    await store.merge('qk:job:q:live', { state: 'active' }, { ttlMs: 60_000 });
    for (let i = 0; i < 5; i++)
      await store.merge(`qk:job:q:${i}`, { state: 'completed' }, { ttlMs: 60_000, evictable: true });
    expect(await store.get('qk:job:q:0')).toBeUndefined();
    expect(await store.get('qk:job:q:1')).toBeUndefined();
    for (const i of [2, 3, 4]) expect(await store.get(`qk:job:q:${i}`)).toEqual({ state: 'completed' });
    expect(await store.get('qk:job:q:live')).toEqual({ state: 'active' });
    expect(await store.get('qk:sched:q:def:nightly')).toEqual({ every: 60_000 });
    expect(store.size).toBe(5);
  });

  it('a later write without evictable makes the entry live again', async () => {
    const store = new MemoryStore({ maxEvictable: 1 });
    await store.merge('a', { state: 'failed' }, { evictable: true });
    await store.merge('a', { state: 'waiting' });
    await store.merge('b', { state: 'completed' }, { evictable: true });
    await store.merge('c', { state: 'completed' }, { evictable: true });
    expect(await store.get('a')).toEqual({ state: 'waiting' });
    expect(await store.get('b')).toBeUndefined();
    expect(await store.get('c')).toEqual({ state: 'completed' });
  });

  it('keeps 10,000 by default', async () => {
    const store = new MemoryStore();
    for (let i = 0; i < 10_050; i++) await store.merge(`k${i}`, { state: 'completed' }, { evictable: true });
    expect(store.size).toBe(10_000);
    expect(await store.get('k49')).toBeUndefined();
    expect(await store.get('k50')).toEqual({ state: 'completed' });
  });

  it('a queue keeps the records of its last 5 finished jobs (maxEvictable 5) and of every job not finished', async () => {
    const store = new MemoryStore({ maxEvictable: 5 });
    const queue = createQueue<number>({
      name: 'capped',
      driver: createMemoryDriver({ broker: new MemoryBroker() }),
      ownsDriver: true,
      store,
    });
    const done = await queue.sendBatch(Array.from({ length: 20 }, (_, i) => ({ name: 'n', data: i })));
    let handled = 0;
    await queue.process(async () => {
      handled++;
    });
    await until(async () => handled === 20, 'every job handled');
    await queue.close();
    expect(handled).toBe(20);
    const later = createQueue<number>({
      name: 'capped',
      driver: createMemoryDriver({ broker: new MemoryBroker() }),
      ownsDriver: true,
      store,
    });
    const waiting = await later.send('n', 99);
    const kept = (await Promise.all(done.map((id) => queue.getJob(id)))).filter((job) => job !== undefined);
    expect(kept.map((job) => job.state)).toEqual(Array(5).fill('completed'));
    expect((await later.getJob(waiting))?.state).toBe('waiting');
    await later.close();
  });
});
