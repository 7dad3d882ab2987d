import { describe, expect, it } from 'vitest';
import { MemoryStore, type Store } from '../src/index.js';
import { newJobId } from '../src/producer/job-id.js';
import { JobTracker } from '../src/workflows/job-records.js';

const DAY = 24 * 3_600_000;

/** A MemoryStore that refuses the merges of keys ending in `:bad`, one by one and in batches. */
function pickyStore(): Store {
  const inner = new MemoryStore();
  const refused = (key: string) => key.endsWith(':bad');
  return {
    ordered: true,
    get: (key) => inner.get(key),
    set: (key, value, o) => inner.set(key, value, o),
    merge: (key, patch, o) =>
      refused(key) ? Promise.reject(new Error(`refused ${key}`)) : inner.merge(key, patch, o),
    mergeMany: (writes) =>
      writes.some((w) => refused(w.key))
        ? Promise.reject(new Error('batch refused'))
        : inner.mergeMany(writes),
    increment: (key, by, o) => inner.increment(key, by, o),
    delete: (key) => inner.delete(key),
    keys: (prefix) => inner.keys(prefix),
    close: () => inner.close(),
  };
}

describe('JobTracker.record (the consumer and producer path: no promise per update)', () => {
  it('tells only the failed job, with its context, error and id, before the shared promise resolves', async () => {
    const tracker = new JobTracker(pickyStore(), 'q', DAY);
    const told: [string, string, string][] = [];
    const onError = (context: string, error: unknown, id: string) =>
      told.push([context, (error as Error).message, id]);
    const good = tracker.record('good', { id: 'good', state: 'waiting', attempts: 0 }, onError, 'ctx-good');
    const bad = tracker.record('bad', { id: 'bad', state: 'waiting', attempts: 0 }, onError, 'ctx-bad');
    // Same flush, same promise: one per flush, not one per update.
    expect(bad).toBe(good);
    await expect(good).resolves.toBeUndefined();
    expect(told).toEqual([['ctx-bad', 'refused qk:job:q:bad', 'bad']]);
    expect((await tracker.get('good'))?.state).toBe('waiting');
    expect(await tracker.get('bad')).toBeUndefined();
  });

  it('tells every record of a failed job in the flush, and an update of it rejects as before', async () => {
    const tracker = new JobTracker(pickyStore(), 'q', DAY);
    const told: string[] = [];
    const onError = (context: string) => told.push(context);
    const first = tracker.record('bad', { id: 'bad', state: 'active', attempts: 1 }, onError, 'one');
    const second = tracker.record('bad', { state: 'completed', finishedAt: 9 }, onError, 'two');
    const update = tracker.update('bad', { progress: 50 });
    await Promise.all([first, second]);
    expect(told).toEqual(['one', 'two']);
    await expect(update).rejects.toThrow('refused qk:job:q:bad');
  });

  it('tells of a patch that cannot be copied (and writes none of it), never throws', async () => {
    const tracker = new JobTracker(new MemoryStore(), 'q', DAY);
    await tracker.update('c', { id: 'c', state: 'active', attempts: 1 });
    const told: unknown[] = [];
    const written = tracker.record(
      'c',
      { state: 'completed', result: { run: () => 1 } },
      (_: undefined, error) => told.push(error),
      undefined,
    );
    await written;
    expect(told).toHaveLength(1);
    expect((await tracker.get('c'))?.state).toBe('active');
  });
});

describe('newJobId', () => {
  it('answers distinct version 4 UUIDs, across more than one draw of random bytes', () => {
    const ids = Array.from({ length: 1_000 }, () => newJobId());
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
