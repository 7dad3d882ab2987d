import type { Job, ReduceData } from '@queuekit/core';
import { expect, it } from 'vitest';
import { storeFailingOnce } from '../faults.js';
import { type Harness, until } from '../harness.js';
import { quietFor } from './locks.js';
import { startsUnderRateLimit } from './rate-limited.js';

/** Workflow state that must survive: the default store, removed schedules, fan-out crashes, rate limits. */
export function workflowStateCases(h: Harness): void {
  it('two queues of one name without a `store` option share job records and schedules in one process', async () => {
    const name = h.queueName();
    const producer = await h.queue<{ n: number }>(name, {}, { defaultStore: true });
    const worker = await h.queue<{ n: number }>(name, {}, { defaultStore: true });
    const done = new Set<string>();
    worker.on('completed', (job) => done.add(job.id));
    worker.process(async (job) => ({ doubled: job.data.n * 2 }));
    const id = await producer.send('shared', { n: 21 });
    await until('the job completed', h.timeout(15_000), () => done.has(id));
    const record = await until('the record seen by the other queue', h.timeout(10_000), async () => {
      const got = await producer.getJob<{ doubled: number }>(id);
      return got?.state === 'completed' ? got : undefined;
    });
    expect(record.result).toEqual({ doubled: 42 });
    await producer.schedule('shared-schedule', { every: 60_000, data: { n: 1 } });
    expect((await worker.schedules.list()).map((s) => s.name)).toEqual(['shared-schedule']);
    expect(await worker.schedules.remove('shared-schedule')).toBe(true);
    expect(await producer.schedules.list()).toEqual([]);
  });

  it('a removed schedule stays removed while consumers keep ticking', async () => {
    const name = h.queueName();
    const admin = await h.queue<null>(name);
    await admin.schedule('gone', { every: 1000, data: null });
    await admin.schedule('kept', { every: 1000, data: null });
    const runs: string[] = [];
    for (let c = 0; c < 2; c++) {
      const worker = await h.queue<null>(name);
      worker.process(async (job) => {
        runs.push(job.headers['queuekit-schedule'] ?? '');
      });
    }
    await until(
      '2 runs of the schedule',
      h.timeout(30_000),
      () => runs.filter((r) => r === 'gone').length >= 2,
    );
    expect(await admin.schedules.remove('gone')).toBe(true);
    const atRemoval = runs.filter((r) => r === 'gone').length;
    const keptAtRemoval = runs.filter((r) => r === 'kept').length;
    await quietFor(3500);
    // At most the tick already sent when it was removed; the other schedule goes on.
    expect(runs.filter((r) => r === 'gone').length - atRemoval).toBeLessThanOrEqual(1);
    expect(runs.filter((r) => r === 'kept').length).toBeGreaterThan(keptAtRemoval);
    expect((await admin.schedules.list()).map((s) => s.name)).toEqual(['kept']);
  });

  it('a fan-out survives a crash between two store calls and runs its reduce exactly once', async () => {
    const name = h.queueName();
    const reduceName = h.queueName();
    // The first counter increment fails: the worker "crashed" after recording a chunk, before counting it.
    const store = storeFailingOnce(h.store, 'increment');
    const injected = (error: Error) => error.message.includes('injected store failure');
    const producer = await h.queue<number[]>(name, { store });
    for (let c = 0; c < 2; c++) {
      const worker = await h.queue<number[]>(name, { store }, { errors: injected, failures: injected });
      worker.process(async (job) => job.data.reduce((sum, n) => sum + n, 0), { lockDuration: h.lockMs });
    }
    const reducer = await h.queue<ReduceData<number>>(reduceName, { store });
    const reduced: Job<ReduceData<number>>[] = [];
    reducer.process(async (job) => {
      reduced.push(job);
    });
    const items = Array.from({ length: 20 }, (_, i) => i);
    const { parentId } = await producer.fanOut('sum', items, { chunkSize: 5, reduce: reduceName });
    await until('the reduce job', h.timeout(30_000) + 3 * h.lockMs, () => reduced.length >= 1);
    await reducer.send('sentinel', { parentId: 'x', results: [], failed: [] });
    await until('the sentinel', h.timeout(15_000), () => reduced.some((r) => r.name === 'sentinel'));
    const reduces = reduced.filter((r) => r.name !== 'sentinel');
    expect(reduces).toHaveLength(1);
    expect(reduces[0]?.data.parentId).toBe(parentId);
    expect(reduces[0]?.data.results).toEqual([10, 35, 60, 85]);
    expect(reduces[0]?.data.failed).toEqual([]);
  });

  it('a rate limit reaches a lower bound of throughput, not only an upper one', async () => {
    const rateLimit = { max: 4, duration: 1000 };
    const jobs = 16;
    const sorted = await startsUnderRateLimit(h, rateLimit, jobs, 60_000);
    const span = (sorted.at(-1) ?? 0) - (sorted[0] ?? 0);
    // 16 jobs at 4 per window need 4 windows (at least 3 windows apart from first to last start); a limiter
    // that wastes permits needs far more. At least half the configured throughput, plus one window:
    const ideal = (jobs / rateLimit.max - 1) * rateLimit.duration;
    expect(span).toBeGreaterThanOrEqual(ideal - rateLimit.duration - 50);
    expect(span).toBeLessThanOrEqual(h.timeout(2 * ideal + 2 * rateLimit.duration));
  });
}
