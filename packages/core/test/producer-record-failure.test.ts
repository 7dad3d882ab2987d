import { describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue, MemoryBroker, MemoryStore, type Store } from '../src/index.js';

/** A MemoryStore that refuses the record of any job named `poison`, as a store with a size limit would. */
function pickyStore() {
  const inner = new MemoryStore();
  const refused = (patch: Readonly<Record<string, unknown>>) => patch.name === 'poison';
  const store: Store = {
    get: (key) => inner.get(key),
    set: (key, value, o) => inner.set(key, value, o),
    merge: (key, patch, o) =>
      refused(patch) ? Promise.reject(new Error(`record too large: ${key}`)) : inner.merge(key, patch, o),
    mergeMany: (writes) =>
      writes.some((w) => refused(w.patch))
        ? Promise.reject(new Error('batch refused'))
        : inner.mergeMany(writes),
    increment: (key, by, o) => inner.increment(key, by, o),
    delete: (key) => inner.delete(key),
    keys: (prefix) => inner.keys(prefix),
    close: () => inner.close(),
  };
  return { store, inner };
}

function queueOn(store: Store) {
  const broker = new MemoryBroker();
  const queue = createQueue<number>({ name: 'records', driver: createMemoryDriver({ broker }), store });
  return queue;
}

describe('a job record the store refuses', () => {
  it('fails only its own send: the other sends of the same batch are recorded and sent', async () => {
    const { store } = pickyStore();
    const queue = queueOn(store);
    try {
      // Sent in one turn: coalesced into one driver batch and one batch of records.
      const [first, poison, last] = await Promise.allSettled([
        queue.send('ok', 1),
        queue.send('poison', 2),
        queue.send('ok', 3),
      ]);
      expect(poison?.status).toBe('rejected');
      expect((poison as PromiseRejectedResult).reason.message).toMatch(/^record too large: qk:job:records:/);
      const ids = [first, last].map((r) => (r as PromiseFulfilledResult<string>).value);
      for (const id of ids) expect((await queue.getJob(id))?.state).toBe('waiting');
      expect((await queue.peek(10)).map((job) => job.data)).toEqual([1, 3]);
    } finally {
      await queue.close();
    }
  });

  it('fails a sendBatch holding it as a whole: nothing sent, no record left for the others', async () => {
    const { store, inner } = pickyStore();
    const queue = queueOn(store);
    try {
      await expect(
        queue.sendBatch([
          { name: 'ok', data: 1 },
          { name: 'poison', data: 2 },
        ]),
      ).rejects.toThrow(/^record too large/);
      expect(await queue.peek(10)).toEqual([]);
      expect(await inner.keys('qk:job:')).toEqual([]);
    } finally {
      await queue.close();
    }
  });
});
