import { randomUUID } from 'node:crypto';
import { createMemoryDriver, createQueue, MemoryBroker, type Queue, type Store } from '@queuekit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from './harness.js';

/**
 * The conformance suite of a {@link Store}. `makeStore` returns a store connected to the backend;
 * it is called twice to check that two connections see each other's writes.
 */
export function describeStoreConformance(name: string, makeStore: () => Store | Promise<Store>): void {
  describe(`store conformance: ${name}`, () => {
    let a: Store;
    let b: Store;
    const prefix = `qks-${randomUUID().slice(0, 8)}:`;
    const key = (suffix: string) => `${prefix}${suffix}`;

    beforeAll(async () => {
      a = await makeStore();
      b = await makeStore();
    });

    afterAll(async () => {
      for (const k of await a.keys(prefix)) await a.delete(k);
      await a.close();
      await b.close();
    });

    it('sets and gets JSON values across connections, and deletes them', async () => {
      const value = { text: 'héllo 🌍', n: 1.5, list: [1, null, { deep: true }] };
      expect(await a.set(key('json'), value)).toBe(true);
      expect(await b.get(key('json'))).toEqual(value);
      expect(await b.get(key('missing'))).toBeUndefined();
      await b.delete(key('json'));
      expect(await a.get(key('json'))).toBeUndefined();
    });

    it('ifAbsent lets exactly one of many concurrent claims win', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? a : b).set(key('lease'), { owner: i }, { ifAbsent: true, ttlMs: 60_000 }),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await a.set(key('lease'), { owner: 'late' }, { ifAbsent: true })).toBe(false);
    });

    it('expires keys after their TTL, after which a claim can be taken again', async () => {
      expect(await a.set(key('ttl'), 'short', { ttlMs: 300, ifAbsent: true })).toBe(true);
      expect(await b.get(key('ttl'))).toBe('short');
      await until('the key to expire', 10_000, async () => (await b.get(key('ttl'))) === undefined, 50);
      expect(await b.set(key('ttl'), 'again', { ifAbsent: true })).toBe(true);
    });

    it('merges patches atomically under concurrency', async () => {
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).merge(key('merge'), { [`f${i}`]: i })),
      );
      await a.merge(key('merge'), { f0: 'replaced', nested: { x: 1 } });
      const merged = await b.get<Record<string, unknown>>(key('merge'));
      expect(Object.keys(merged ?? {})).toHaveLength(21);
      expect(merged).toMatchObject({ f0: 'replaced', f19: 19, nested: { x: 1 } });
    });

    it('increments atomically under concurrency and honours the TTL set at creation', async () => {
      const values = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).increment(key('count'))),
      );
      expect([...values].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(await a.increment(key('count'), 10)).toBe(60);
      expect(await a.increment(key('window'), 1, { ttlMs: 300 })).toBe(1);
      await until('the window to expire', 10_000, async () => (await b.get(key('window'))) === undefined, 50);
      expect(await b.increment(key('window'), 1, { ttlMs: 300 })).toBe(1);
    });

    /** Two queues of one name, each on its own store connection (as two processes would be), over one broker. */
    const twoProcesses = <T>(queueOptions: { rateLimit?: { max: number; duration: number } } = {}) => {
      const broker = new MemoryBroker();
      const name = `qks-${randomUUID().slice(0, 8)}`;
      return [a, b].map((store) =>
        createQueue<T>({
          name,
          driver: createMemoryDriver({ broker }),
          ownsDriver: true,
          store,
          ...queueOptions,
        }),
      ) as [Queue<T>, Queue<T>];
    };

    it('two processes sharing the store run a recurring job once per tick, and a removed schedule stays removed', async () => {
      const [first, second] = twoProcesses<null>();
      const ticks: string[] = [];
      for (const queue of [first, second]) {
        queue.process(async (job) => {
          ticks.push(job.headers['queuekit-tick'] ?? '');
        });
      }
      try {
        await first.schedule('beat', { every: 1000, data: null });
        await until('3 ticks', 20_000, () => ticks.length >= 3, 20);
        expect(new Set(ticks).size).toBe(ticks.length);
        expect(await second.schedules.remove('beat')).toBe(true);
        const removedAt = ticks.length;
        // Three more intervals pass (every scheduler loop has looked again): the schedule stays gone.
        const removed = Date.now();
        await until('three intervals after the removal', 10_000, () => Date.now() - removed > 3_000, 50);
        expect(ticks.length).toBeLessThanOrEqual(removedAt + 1); // one tick may have been in flight
        expect((await first.schedules.list()).map((entry) => entry.name)).toEqual([]);
      } finally {
        await Promise.all([first.close({ timeout: 0 }), second.close({ timeout: 0 })]);
      }
    });

    it('two processes sharing the store share one rate limit, and reach its throughput', async () => {
      const rateLimit = { max: 3, duration: 1000 };
      const [first, second] = twoProcesses<number>({ rateLimit });
      const starts: number[] = [];
      for (const queue of [first, second]) {
        queue.process(
          async () => {
            starts.push(Date.now());
          },
          { concurrency: 5 },
        );
      }
      try {
        const jobs = 12;
        await first.sendBatch(Array.from({ length: jobs }, (_, i) => ({ name: 'limited', data: i })));
        await until(`${jobs} jobs`, 30_000, () => starts.length === jobs, 20);
        const sorted = [...starts].sort((x, y) => x - y);
        const busiest = Math.max(
          ...sorted.map((t) => sorted.filter((u) => u >= t && u < t + rateLimit.duration).length),
        );
        // A fixed window admits at most max per window, so at most 2 x max in any sliding interval.
        expect(busiest).toBeLessThanOrEqual(2 * rateLimit.max);
        const span = (sorted.at(-1) ?? 0) - (sorted[0] ?? 0);
        // 12 jobs at 3 a window need 4 windows: at least 2 full windows between first and last start...
        expect(span).toBeGreaterThanOrEqual(2 * rateLimit.duration - 50);
        // ...and a limiter that wastes permits needs far more than twice the ideal.
        expect(span).toBeLessThanOrEqual(2 * (jobs / rateLimit.max) * rateLimit.duration);
      } finally {
        await Promise.all([first.close({ timeout: 0 }), second.close({ timeout: 0 })]);
      }
    });

    it('lists live keys by prefix', async () => {
      await a.set(key('list:1'), 1);
      await a.set(key('list:2'), 2);
      await a.set(key('other'), 3);
      expect((await b.keys(key('list:'))).sort()).toEqual([key('list:1'), key('list:2')]);
    });
  });
}
