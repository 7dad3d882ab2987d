import { describe, expect, it } from 'vitest';
import { MemoryStore, type Store } from '../src/index.js';
import { JobTracker } from '../src/workflows/job-records.js';

const DAY = 24 * 3_600_000;

/** A MemoryStore that counts the merges it is given (one per write, however they are batched). */
function countingStore(options: { ordered?: boolean; mergeMany?: boolean } = {}) {
  const inner = new MemoryStore();
  const counts = { merges: 0, calls: 0 };
  const store: Store = {
    ordered: options.ordered ?? true,
    get: (key) => inner.get(key),
    set: (key, value, o) => inner.set(key, value, o),
    merge: (key, patch, o) => {
      counts.merges++;
      counts.calls++;
      return inner.merge(key, patch, o);
    },
    ...(options.mergeMany === false
      ? {}
      : {
          mergeMany: (writes) => {
            counts.merges += writes.length;
            counts.calls++;
            return inner.mergeMany(writes);
          },
        }),
    increment: (key, by, o) => inner.increment(key, by, o),
    delete: (key) => inner.delete(key),
    keys: (prefix) => inner.keys(prefix),
    close: () => inner.close(),
  };
  return { store, counts, inner };
}

describe('JobTracker', () => {
  it('writes the changes of one turn as one merge per job, in one store call', async () => {
    const { store, counts } = countingStore();
    const tracker = new JobTracker(store, 'q', DAY);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      writes.push(tracker.update(`j${i}`, { id: `j${i}`, state: 'active', attempts: 1, startedAt: 5 }));
      writes.push(tracker.update(`j${i}`, { state: 'completed', result: { n: i }, finishedAt: 9 }));
    }
    expect(counts.merges).toBe(0);
    await Promise.all(writes);
    expect(counts).toEqual({ merges: 50, calls: 1 });
    const status = await tracker.get('j7');
    expect(status).toMatchObject({ state: 'completed', attempts: 1, result: { n: 7 } });
    expect(status?.startedAt?.getTime()).toBe(5);
    expect(status?.finishedAt?.getTime()).toBe(9);
  });

  it('answers get() with a change still buffered (read your writes), active overwritten by completed', async () => {
    const { store, counts } = countingStore();
    const tracker = new JobTracker(store, 'q', DAY);
    void tracker.update('a', { id: 'a', queue: 'q', name: 'n', state: 'waiting', attempts: 0 });
    expect((await tracker.get('a'))?.state).toBe('waiting');
    void tracker.update('a', { state: 'active', attempts: 1 });
    void tracker.update('a', { state: 'completed', result: 42 });
    expect(await tracker.get('a')).toMatchObject({ state: 'completed', attempts: 1, result: 42 });
    expect(counts.merges).toBe(2);
  });

  it('keeps the result it was given at update time when the caller changes it before the flush', async () => {
    const { store } = countingStore();
    const tracker = new JobTracker(store, 'q', DAY);
    const result = { items: [1, 2] };
    const written = tracker.update('r', { id: 'r', state: 'completed', result });
    result.items.push(3);
    await written;
    expect((await tracker.get('r'))?.result).toEqual({ items: [1, 2] });
  });

  it('rejects (never throws) an update whose result cannot be copied, and applies none of it', async () => {
    const { store } = countingStore();
    const tracker = new JobTracker(store, 'q', DAY);
    await tracker.update('c', { id: 'c', state: 'active', attempts: 1 });
    let written: Promise<void> | undefined;
    expect(() => {
      written = tracker.update('c', { state: 'completed', result: { run: () => 1 } });
    }).not.toThrow();
    await expect(written).rejects.toThrow();
    expect((await tracker.get('c'))?.state).toBe('active');
  });

  it('rejects only the updates of the job whose write failed (no mergeMany)', async () => {
    const { store } = countingStore({ mergeMany: false });
    const failing: Store = {
      ...store,
      merge: (key, patch, o) =>
        key.endsWith(':bad') ? Promise.reject(new Error('disk full')) : store.merge(key, patch, o),
    };
    const tracker = new JobTracker(failing, 'q', DAY);
    const good = tracker.update('good', { id: 'good', state: 'waiting', attempts: 0 });
    const bad = tracker.update('bad', { id: 'bad', state: 'waiting', attempts: 0 });
    await expect(good).resolves.toBeUndefined();
    await expect(bad).rejects.toThrow('disk full');
    expect((await tracker.get('good'))?.state).toBe('waiting');
    expect(await tracker.get('bad')).toBeUndefined();
  });

  it('rejects a batch whose mergeMany failed, and the next batch is written again', async () => {
    const { store } = countingStore();
    let fail = true;
    const flaky: Store = {
      ...store,
      mergeMany: (writes) => {
        if (fail) {
          fail = false;
          throw new Error('connection reset');
        }
        return store.mergeMany?.(writes) ?? Promise.resolve();
      },
    };
    const tracker = new JobTracker(flaky, 'q', DAY);
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    // A failing batch whose update nobody awaits: no unhandled rejection.
    void tracker.update('y', { id: 'y', state: 'waiting', attempts: 0 });
    tracker.flush();
    await new Promise((resolve) => setTimeout(resolve, 20));
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
    expect(fail).toBe(false);
    fail = true;
    await expect(tracker.update('x', { id: 'x', state: 'waiting', attempts: 0 })).rejects.toThrow(
      'connection reset',
    );
    await tracker.update('x', { id: 'x', state: 'active', attempts: 1 });
    expect((await tracker.get('x'))?.state).toBe('active');
  });

  it('fails only the job whose write failed when a mergeMany batch fails (found by writing it one by one)', async () => {
    const { store, counts } = countingStore();
    // A store that refuses one key, as a record over a size limit would be: the whole batch fails.
    const refuses = (key: string) => key.endsWith(':big');
    const picky: Store = {
      ...store,
      merge: (key, patch, o) =>
        refuses(key) ? Promise.reject(new Error(`value too large at ${key}`)) : store.merge(key, patch, o),
      mergeMany: (writes) =>
        writes.some((w) => refuses(w.key))
          ? Promise.reject(new Error('batch refused'))
          : (store.mergeMany?.(writes) ?? Promise.resolve()),
    };
    const tracker = new JobTracker(picky, 'q', DAY);
    const ids = ['a', 'big', 'c'];
    const writes = ids.map((id) => tracker.update(id, { id, state: 'waiting', attempts: 0 }));
    const [a, big, c] = await Promise.allSettled(writes);
    expect(a).toEqual({ status: 'fulfilled', value: undefined });
    expect(c).toEqual({ status: 'fulfilled', value: undefined });
    expect(big?.status).toBe('rejected');
    expect((big as PromiseRejectedResult).reason.message).toBe('value too large at qk:job:q:big');
    expect((await tracker.get('a'))?.state).toBe('waiting');
    expect((await tracker.get('c'))?.state).toBe('waiting');
    expect(await tracker.get('big')).toBeUndefined();
    // One failed batch call, then one merge per job of it.
    expect(counts).toEqual({ merges: 2, calls: 2 });
  });

  it('fails every job of a batch when the store is down', async () => {
    const { store } = countingStore();
    const down = new Error('connect ECONNREFUSED');
    const outage: Store = {
      ...store,
      merge: () => Promise.reject(down),
      mergeMany: () => Promise.reject(down),
    };
    const tracker = new JobTracker(outage, 'q', DAY);
    const results = await Promise.allSettled(
      ['a', 'b', 'c'].map((id) => tracker.update(id, { id, state: 'waiting', attempts: 0 })),
    );
    expect(results).toEqual([
      { status: 'rejected', reason: down },
      { status: 'rejected', reason: down },
      { status: 'rejected', reason: down },
    ]);
  });

  it('writes no later state of a job before its failed batch is written again (ordered store)', async () => {
    const { store, inner } = countingStore();
    let failBatch = true;
    let releaseRetry!: () => void;
    const retryHeld = new Promise<void>((resolve) => {
      releaseRetry = resolve;
    });
    const order: string[] = [];
    const held: Store = {
      ...store,
      // The retry of the failed batch is slow; anything written meanwhile would land first.
      merge: async (key, patch, o) => {
        await retryHeld;
        order.push(`merge ${key} ${String(patch.state)}`);
        return store.merge(key, patch, o);
      },
      mergeMany: (writes) => {
        if (failBatch) {
          failBatch = false;
          // Applied in part before failing, as a store that fails midway may.
          void inner.merge(writes[0]?.key ?? '', writes[0]?.patch ?? {});
          return Promise.reject(new Error('connection reset'));
        }
        order.push(...writes.map((w) => `mergeMany ${w.key} ${String(w.patch.state)}`));
        return store.mergeMany?.(writes) ?? Promise.resolve();
      },
    };
    const tracker = new JobTracker(held, 'q', DAY);
    const first = [
      tracker.update('s', { id: 's', state: 'active', attempts: 1 }),
      tracker.update('t', { id: 't', state: 'active', attempts: 1 }),
    ];
    tracker.flush();
    const second = tracker.update('s', { state: 'completed' });
    tracker.flush();
    // The second flush waits for the first one's retry, which waits for this release.
    await Promise.resolve();
    expect(order).toEqual([]);
    releaseRetry();
    await Promise.all([...first, second]);
    expect(order).toEqual([
      'merge qk:job:q:s active',
      'merge qk:job:q:t active',
      'mergeMany qk:job:q:s completed',
    ]);
    expect((await tracker.get('s'))?.state).toBe('completed');
    expect((await tracker.get('t'))?.state).toBe('active');
  });

  it('on an unordered store, a slow batch is never overtaken by a later one', async () => {
    const { store } = countingStore({ ordered: false, mergeMany: false });
    let slow = true;
    const laggy: Store = {
      ...store,
      ordered: false,
      merge: async (key, patch, o) => {
        if (slow) {
          slow = false;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return store.merge(key, patch, o);
      },
    };
    const tracker = new JobTracker(laggy, 'q', DAY);
    const first = tracker.update('s', { id: 's', state: 'active', attempts: 1 });
    tracker.flush();
    const second = tracker.update('s', { state: 'completed' });
    tracker.flush();
    await Promise.all([first, second]);
    expect((await tracker.get('s'))?.state).toBe('completed');
  });

  it('caps error text and marks finished records evictable (a bounded store drops them first)', async () => {
    const inner = new MemoryStore({ maxEvictable: 1 });
    const tracker = new JobTracker(inner, 'q', DAY);
    void tracker.update('live', { id: 'live', state: 'active', attempts: 1 });
    void tracker.update('f1', { id: 'f1', state: 'failed', error: 'x'.repeat(10_000), attempts: 3 });
    await tracker.update('f2', { id: 'f2', state: 'completed', attempts: 1 });
    expect(await tracker.get('f1')).toBeUndefined();
    expect((await tracker.get('f2'))?.state).toBe('completed');
    expect((await tracker.get('live'))?.state).toBe('active');
    await tracker.update('f3', { id: 'f3', state: 'failed', error: 'y'.repeat(10_000), attempts: 3 });
    expect((await tracker.get('f3'))?.error?.length).toBeLessThan(4_200);
  });

  it('keeps the store keys of live jobs only, and a bounded number of them', async () => {
    const tracker = new JobTracker(new MemoryStore(), 'q', DAY);
    const cached = () => (tracker as unknown as { slots: Map<string, unknown> }).slots.size;
    await Promise.all([
      tracker.update('done', { id: 'done', state: 'active', attempts: 1 }),
      tracker.update('live', { id: 'live', state: 'active', attempts: 1 }),
    ]);
    expect(cached()).toBe(2);
    await tracker.update('done', { state: 'completed' });
    expect(cached()).toBe(1);
    // Jobs recorded as sent and finished by another process: the cache is cleared, never grows past its bound.
    for (let round = 0; round < 11; round++) {
      const writes: Promise<void>[] = [];
      for (let i = 0; i < 10_000; i++) {
        const id = `${round}-${i}`;
        writes.push(tracker.update(id, { id, state: 'waiting', attempts: 0 }));
      }
      await Promise.all(writes);
      expect(cached()).toBeLessThanOrEqual(100_000);
    }
    expect(cached()).toBeLessThan(20_000);
    expect((await tracker.get('live'))?.state).toBe('active');
  });

  it('forget() drops a record after its buffered write', async () => {
    const { store } = countingStore();
    const tracker = new JobTracker(store, 'q', DAY);
    void tracker.update('z', { id: 'z', state: 'waiting', attempts: 0 });
    await tracker.forget('z');
    expect(await tracker.get('z')).toBeUndefined();
  });
});

describe('MemoryStore.mergeMany', () => {
  it('applies merges in order, with their TTL and evictable marks', async () => {
    const store = new MemoryStore({ maxEvictable: 1 });
    await store.mergeMany([
      { key: 'k1', patch: { a: 1 }, options: { ttlMs: DAY } },
      { key: 'k1', patch: { b: { c: 2 } } },
      { key: 'k2', patch: { done: true }, options: { evictable: true } },
      { key: 'k3', patch: { done: true }, options: { evictable: true } },
    ]);
    expect(await store.get('k1')).toEqual({ a: 1, b: { c: 2 } });
    expect(await store.get('k2')).toBeUndefined();
    expect(await store.get('k3')).toEqual({ done: true });
  });

  it('keeps an owned patch as it is and copies one that is not', async () => {
    const store = new MemoryStore();
    const owned = { state: 'waiting', nested: { n: 1 } };
    const lent = { state: 'waiting', nested: { n: 1 } };
    await store.mergeMany([
      { key: 'o', patch: owned, owned: true },
      { key: 'l', patch: lent },
    ]);
    lent.nested.n = 2;
    expect(await store.get('l')).toEqual({ state: 'waiting', nested: { n: 1 } });
    expect(await store.get('o')).toEqual({ state: 'waiting', nested: { n: 1 } });
    // What get() answers is a copy either way.
    const read = await store.get<typeof owned>('o');
    if (read) read.nested.n = 3;
    expect(await store.get('o')).toEqual({ state: 'waiting', nested: { n: 1 } });
  });

  it('rejects (never throws) on a value it cannot copy', async () => {
    const store = new MemoryStore();
    const written = store.mergeMany([{ key: 'k', patch: { fn: { f: () => 1 } } }]);
    await expect(written).rejects.toThrow();
  });
});
