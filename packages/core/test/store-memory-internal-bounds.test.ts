import { describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue, MemoryBroker, MemoryStore } from '../src/index.js';
import { until } from './helpers.js';

/** The store's own structures, read past `private` so that a leak in any of them shows. */
function internals(store: MemoryStore) {
  const s = store as unknown as {
    entries: Map<string, unknown>;
    evictable: number;
    evictOrder: { size: number };
    expiries: { size: number };
    buckets: Map<string, Set<string>>;
  };
  return {
    entries: s.entries.size,
    evictable: s.evictable,
    evictOrder: s.evictOrder.size,
    expiries: s.expiries.size,
    buckets: s.buckets.size,
  };
}

const DAY = 24 * 3_600_000;

/** Upper bounds that follow from maxEvictable and the live keys alone, whatever the number of jobs. */
function expectBounded(store: MemoryStore, maxEvictable: number, live: number) {
  const sizes = internals(store);
  expect(sizes.evictable).toBeLessThanOrEqual(maxEvictable);
  expect(sizes.entries).toBeLessThanOrEqual(maxEvictable + live);
  expect(sizes.evictOrder).toBeLessThanOrEqual(2 * maxEvictable + 2 * 1024);
  expect(sizes.expiries).toBeLessThanOrEqual(2 * sizes.entries + 1024);
  expect(sizes.buckets).toBeLessThanOrEqual(live);
}

describe('MemoryStore internal sizes stay bounded over many jobs', () => {
  it('the write pattern of a job record (waiting, active, completed; 24 h TTL) for 30,000 jobs', async () => {
    const store = new MemoryStore({ maxEvictable: 100 });
    await store.set('qk:sched:q:def:nightly', { every: 60_000 });
    const ttlMs = DAY;
    for (let i = 0; i < 30_000; i++) {
      const key = `qk:job:q:${i}`;
      await store.merge(key, { id: String(i), state: 'waiting', attempts: 0 }, { ttlMs, evictable: false });
      await store.merge(key, { state: 'active', attempts: 1 }, { ttlMs, evictable: false });
      await store.merge(key, { state: i % 7 ? 'completed' : 'failed' }, { ttlMs, evictable: true });
      if (i % 1_000 === 999) expectBounded(store, 100, 1);
    }
    expectBounded(store, 100, 1);
    expect(await store.get('qk:job:q:29999')).toMatchObject({ state: 'completed' });
    expect(await store.get('qk:job:q:0')).toBeUndefined();
    expect(await store.get('qk:sched:q:def:nightly')).toEqual({ every: 60_000 });
  });

  it('a queue with default record retention, 3,000 jobs through memory://', async () => {
    const store = new MemoryStore({ maxEvictable: 50 });
    const queue = createQueue<number>({
      name: 'internal-bounds',
      driver: createMemoryDriver({ broker: new MemoryBroker() }),
      ownsDriver: true,
      store,
    });
    let done = 0;
    queue.on('completed', () => {
      done++;
    });
    queue.process(async () => undefined, { concurrency: 20 });
    for (let sent = 0; sent < 3_000; sent += 300) {
      await queue.sendBatch(Array.from({ length: 300 }, (_, i) => ({ name: 'n', data: sent + i })));
      await until(() => done >= sent + 300, `jobs up to ${sent + 300}`);
    }
    await queue.close();
    expectBounded(store, 50, 0);
  });
});
