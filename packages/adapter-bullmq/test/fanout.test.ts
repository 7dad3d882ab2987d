import {
  createQueue,
  type Job,
  type Queue as QkQueue,
  type QueueOptions,
  type ReduceData,
  RetryAfterError,
  UnrecoverableError,
} from '@queuekit/core';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { adminRedis, deletePrefix, eventually, testDriver, uniquePrefix, uniqueQueue } from './helpers.js';

const prefix = uniquePrefix('fanout');
const closers: { close(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.allSettled(closers.map((c) => c.close()));
  await deletePrefix(prefix);
});

function queueOn<T>(name: string, options: Partial<QueueOptions<T>> = {}): QkQueue<T> {
  const q = createQueue<T>({ name, driver: testDriver(prefix), ownsDriver: true, ...options });
  closers.push(q);
  return q;
}

function plainQueue(name: string): Queue {
  const q = new Queue(name, { connection: adminRedis(), prefix });
  closers.push({ close: async () => q.close().then(() => q.disconnect()) });
  return q;
}

const sum = (items: readonly number[]) => items.reduce((total, n) => total + n, 0);

/** A reduce queue that records what it receives; `settle` proves no second reduce job follows. */
function reducer(name: string) {
  const queue = queueOn<ReduceData<number>>(name);
  const received: Job<ReduceData<number>>[] = [];
  queue.process(async (job) => {
    received.push(job);
  });
  return {
    queue,
    received,
    async only(): Promise<Job<ReduceData<number>>> {
      await eventually('the reduce job', () => (received.length > 0 ? true : undefined), 30_000);
      await queue.send('sentinel', { parentId: 'x', results: [], failed: [] });
      await eventually('the sentinel', () =>
        received.some((r) => r.name === 'sentinel') ? true : undefined,
      );
      const reduces = received.filter((r) => r.name !== 'sentinel');
      expect(reduces).toHaveLength(1);
      return reduces[0] as Job<ReduceData<number>>;
    },
  };
}

describe('fanOut on BullMQ flows', () => {
  it('a reduce job that throws RetryAfterError gets the results again on its next delivery', async () => {
    const name = uniqueQueue('chunks');
    const reduceName = uniqueQueue('reduce');
    const chunks = queueOn<number[]>(name);
    chunks.process(async (job) => sum(job.data));
    const reduce = queueOn<ReduceData<number>>(reduceName);
    const seen: ReduceData<number>[] = [];
    reduce.process(async (job) => {
      seen.push(job.data);
      if (seen.length === 1) throw new RetryAfterError(100);
    });
    await chunks.fanOut('sum', [1, 2, 3, 4], { chunkSize: 2, reduce: reduceName });
    await eventually('the reduce job twice', () => (seen.length === 2 ? true : undefined), 30_000);
    expect(seen.map((data) => data.results)).toEqual([
      [3, 7],
      [3, 7],
    ]);
  });

  it('is native: the reduce job waits as the flow parent until the last chunk finishes', async () => {
    const name = uniqueQueue('chunks');
    const reduceName = uniqueQueue('reduce');
    const chunks = queueOn<number[]>(name);
    const reduce = reducer(reduceName);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    chunks.process(
      async (job) => {
        if (job.data.includes(4)) await gate;
        return sum(job.data);
      },
      { concurrency: 3 },
    );
    const { parentId } = await chunks.fanOut('sum', [0, 1, 2, 3, 4, 5], { chunkSize: 2, reduce: reduceName });
    const plain = plainQueue(reduceName);
    // Two chunks done, one held: the parent is still waiting for its children.
    await eventually('the parent waiting for the held chunk', async () => {
      const waiting = await plain.getJobs(['waiting-children']);
      return waiting.length === 1 ? waiting : undefined;
    });
    expect(reduce.received).toHaveLength(0);
    open();
    const job = await reduce.only();
    expect(job.data).toEqual({ parentId, results: [1, 5, 9], failed: [] });
  });

  it('counts a chunk retried in place (release) once, with its final result', async () => {
    const name = uniqueQueue('chunks');
    const reduceName = uniqueQueue('reduce');
    const chunks = queueOn<number[]>(name, { defaults: { backoff: { type: 'fixed', delay: 20 } } });
    const reduce = reducer(reduceName);
    const attempts = new Map<number, number>();
    chunks.process(async (job) => {
      const first = job.data[0] as number;
      attempts.set(first, (attempts.get(first) ?? 0) + 1);
      if (first === 3 && (attempts.get(first) ?? 0) < 3) throw new Error('transient');
      return sum(job.data);
    });
    const { parentId } = await chunks.fanOut('sum', [0, 1, 2, 3, 4, 5, 6, 7, 8], {
      chunkSize: 3,
      reduce: reduceName,
    });
    const job = await reduce.only();
    expect(attempts.get(3)).toBe(3);
    expect(job.data).toEqual({ parentId, results: [3, 12, 21], failed: [] });
  });

  it('counts a chunk re-sent as a copy (RetryAfter) with the copy outcome, not the acked original', async () => {
    const name = uniqueQueue('chunks');
    const reduceName = uniqueQueue('reduce');
    const chunks = queueOn<number[]>(name);
    const reduce = reducer(reduceName);
    const seen = new Map<number, number>();
    chunks.process(async (job) => {
      const first = job.data[0] as number;
      const n = (seen.get(first) ?? 0) + 1;
      seen.set(first, n);
      if (first === 0 && n < 3) throw new RetryAfterError(30); // two copies in a row
      if (first === 2 && n === 1) throw new RetryAfterError(30);
      if (first === 2) throw new UnrecoverableError('copy is poison');
      return sum(job.data);
    });
    const { parentId } = await chunks.fanOut('sum', [0, 1, 2, 3, 4, 5], { chunkSize: 2, reduce: reduceName });
    const job = await reduce.only();
    expect(seen.get(0)).toBe(3);
    expect(seen.get(2)).toBe(2);
    expect(job.data).toEqual({
      parentId,
      results: [1, null, 9],
      failed: [{ index: 1, reason: 'unrecoverable', error: 'copy is poison' }],
    });
  });

  it('reports a dead-lettered chunk in `failed` without blocking the reduce job; it stays in the DLQ', async () => {
    const name = uniqueQueue('chunks');
    const reduceName = uniqueQueue('reduce');
    const chunks = queueOn<number[]>(name, {
      defaults: { maxAttempts: 2, backoff: { type: 'fixed', delay: 10 } },
    });
    const reduce = reducer(reduceName);
    chunks.process(async (job) => {
      if (job.data.includes(1)) throw new Error(`bad item in ${job.data.join(',')}`);
      return sum(job.data);
    });
    const { parentId, chunkIds } = await chunks.fanOut('sum', [0, 1, 2, 3], {
      chunkSize: 1,
      reduce: reduceName,
    });
    const job = await reduce.only();
    expect(job.data).toEqual({
      parentId,
      results: [0, null, 2, 3],
      failed: [{ index: 1, reason: 'max-attempts', error: 'bad item in 1' }],
    });
    const dead = await chunks.deadLetters.list();
    expect(dead.map((d) => [d.id, d.reason])).toEqual([[chunkIds[1], 'max-attempts']]);
  });
});
