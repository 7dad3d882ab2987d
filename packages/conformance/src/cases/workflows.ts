import {
  type Job,
  QueuekitError,
  type ReduceData,
  RetryAfterError,
  UnrecoverableError,
} from '@queuekit/core';
import { expect, it } from 'vitest';
import { deferred, type Harness, until } from '../harness.js';
import { startsUnderRateLimit } from './rate-limited.js';

/** Job records, retry-after accounting, rate limits, schedules, fan-out/reduce and chained jobs. */
export function workflowCases(h: Harness): void {
  it('getJob() answers state, progress, result, error, attempts and timestamps', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ n: number }>(
      name,
      {},
      { failures: (e) => e.message.startsWith('bad attempt') },
    );
    const ok = await queue.send('ok', { n: 1 });
    const later = await queue.send('later', { n: 2 }, { delay: 60_000 });
    expect(await queue.getJob(ok)).toMatchObject({ id: ok, name: 'ok', state: 'waiting', attempts: 0 });
    expect(await queue.getJob(later)).toMatchObject({ state: 'delayed' });
    expect(await queue.getJob('no-such-job')).toBeUndefined();
    const bad = await queue.send('bad', { n: 3 }, { maxAttempts: 2, backoff: { type: 'fixed', delay: 50 } });
    const settled = new Set<string>();
    queue.on('completed', (job) => settled.add(job.id));
    queue.on('dead-lettered', (info) => settled.add(info.id));
    queue.process(async (job, ctx) => {
      await ctx.progress(40);
      await ctx.progress({ step: 'upload', done: 3 });
      if (job.name === 'bad') throw new Error(`bad attempt ${job.attempt}`);
      return { doubled: job.data.n * 2 };
    });
    await until('both jobs settled', h.timeout(20_000), () => settled.has(ok) && settled.has(bad));
    const done = await queue.getJob<{ doubled: number }>(ok);
    expect(done).toMatchObject({
      state: 'completed',
      result: { doubled: 2 },
      progress: { step: 'upload', done: 3 },
      attempts: 1,
    });
    expect(done?.startedAt?.getTime()).toBeGreaterThanOrEqual(done?.createdAt?.getTime() ?? Number.NaN);
    expect(done?.finishedAt?.getTime()).toBeGreaterThanOrEqual(done?.startedAt?.getTime() ?? Number.NaN);
    expect(await queue.getJob(bad)).toMatchObject({
      state: 'failed',
      reason: 'max-attempts',
      error: 'bad attempt 2',
      attempts: 2,
    });
  });

  it('a RetryAfterError configured to count uses attempts and dead-letters at maxAttempts', async () => {
    const name = h.queueName();
    const queue = await h.queue<null>(name, {}, { failures: (e) => QueuekitError.is(e, 'ERR_RETRY_AFTER') });
    const attempts: number[] = [];
    const dead = deferred<{ reason: string }>();
    queue.on('dead-lettered', (info) => dead.resolve(info));
    queue.process(async (job) => {
      attempts.push(job.attempt);
      throw new RetryAfterError(200, { countsAsAttempt: true });
    });
    await queue.send('counted', null, { maxAttempts: 2 });
    expect(await dead.promise).toMatchObject({ reason: 'max-attempts' });
    expect(attempts).toEqual([1, 2]);
  });

  it('a rate limit is shared by every consumer of the queue', async () => {
    const rateLimit = { max: 3, duration: 1000 };
    const sorted = await startsUnderRateLimit(h, rateLimit, 9, 30_000);
    // Fixed windows (the core's are wall-clock aligned, BullMQ's start at the first job): at most `max`
    // per window, hence at most 2 x max in any interval of `duration`, and 9 jobs need 3 windows.
    const busiest = Math.max(
      ...sorted.map((t) => sorted.filter((u) => u >= t && u < t + rateLimit.duration).length),
    );
    expect(busiest).toBeLessThanOrEqual(2 * rateLimit.max);
    expect((sorted.at(-1) ?? 0) - (sorted[0] ?? 0)).toBeGreaterThanOrEqual(rateLimit.duration - 50);
  });

  it('a recurring job runs once per tick across several consumers, and can be listed and removed', async () => {
    const name = h.queueName();
    const admin = await h.queue<{ kind: string }>(name);
    await admin.schedule('heartbeat', { every: 1000, data: { kind: 'every' } });
    await admin.schedule('cron', { cron: '* * * * * *', tz: 'Europe/Paris', data: { kind: 'cron' } });
    const runs: { schedule: string; tick: string }[] = [];
    for (let c = 0; c < 2; c++) {
      const worker = await h.queue<{ kind: string }>(name);
      worker.process(async (job) => {
        runs.push({
          schedule: job.headers['queuekit-schedule'] ?? '',
          tick: job.headers['queuekit-tick'] ?? '',
        });
      });
    }
    await until('3 runs of each schedule', h.timeout(30_000), () =>
      ['heartbeat', 'cron'].every((s) => runs.filter((r) => r.schedule === s).length >= 3),
    );
    const keys = runs.map((r) => `${r.schedule}@${r.tick}`);
    expect(new Set(keys).size).toBe(keys.length);
    const listed = await admin.schedules.list();
    expect(listed.map((s) => s.name)).toEqual(['cron', 'heartbeat']);
    expect(listed.every((s) => s.nextRunAt instanceof Date && s.lastRunAt instanceof Date)).toBe(true);
    expect(await admin.schedules.remove('heartbeat')).toBe(true);
    expect(await admin.schedules.remove('heartbeat')).toBe(false);
    expect((await admin.schedules.list()).map((s) => s.name)).toEqual(['cron']);
    await expect(admin.schedule('broken', { cron: 'not a cron', data: { kind: 'x' } })).rejects.toMatchObject(
      {
        code: 'ERR_CONFIG',
        field: 'schedule.cron',
      },
    );
  });

  it('a tick missed while no consumer ran is run once when a consumer starts', async () => {
    const name = h.queueName();
    const admin = await h.queue<null>(name);
    const createdAt = Date.now();
    await admin.schedule('nightly', { every: 1000, data: null });
    // Let ticks pass with nobody consuming: this is what is under test, not a race.
    await until('2.5 s without consumers', 10_000, () => Date.now() >= createdAt + 2500, 100);
    const startedAt = Date.now();
    const ticks: number[] = [];
    const worker = await h.queue<null>(name);
    worker.process(async (job) => {
      ticks.push(Date.parse(job.headers['queuekit-tick'] ?? ''));
    });
    await until('the catch-up run', h.timeout(10_000), () => ticks.length >= 1);
    const [catchUp = 0] = ticks;
    expect(catchUp).toBeLessThanOrEqual(startedAt);
    expect(catchUp).toBeGreaterThan(createdAt);
    expect(ticks.filter((t) => t <= startedAt)).toHaveLength(1);
  });

  it('fanOut splits items into chunks and enqueues one reduce job with every result and the failed chunks', async () => {
    const name = h.queueName();
    const reduceName = h.queueName();
    const producer = await h.queue<number[]>(name);
    for (let c = 0; c < 2; c++) {
      const worker = await h.queue<number[]>(
        name,
        {},
        { failures: (e) => QueuekitError.is(e, 'ERR_UNRECOVERABLE') },
      );
      worker.process(
        async (job) => {
          if (job.data.includes(35)) throw new UnrecoverableError('chunk with 35 is poison');
          return job.data.reduce((sum, n) => sum + n, 0);
        },
        { concurrency: 3 },
      );
    }
    const reducer = await h.queue<ReduceData<number>>(reduceName);
    const reduced: Job<ReduceData<number>>[] = [];
    reducer.process(async (job) => {
      reduced.push(job);
    });
    const items = Array.from({ length: 100 }, (_, i) => i);
    const { parentId, chunkIds } = await producer.fanOut('sum', items, {
      chunkSize: 10,
      reduce: reduceName,
      reduceName: 'total',
    });
    expect(chunkIds).toHaveLength(10);
    await until('the reduce job', h.timeout(30_000), () => reduced.length >= 1);
    const [job] = reduced;
    expect(job?.name).toBe('total');
    expect(job?.data.parentId).toBe(parentId);
    expect(job?.data.results).toHaveLength(10);
    expect(job?.data.results[3]).toBeNull();
    expect(job?.data.failed).toEqual([
      { index: 3, reason: 'unrecoverable', error: 'chunk with 35 is poison' },
    ]);
    const expected = items.filter((i) => i < 30 || i >= 40).reduce((sum, n) => sum + n, 0);
    expect(job?.data.results.reduce<number>((sum, r) => sum + (r ?? 0), 0)).toBe(expected);
    await reducer.send('sentinel', { parentId: 'x', results: [], failed: [] });
    await until('the sentinel after the reduce', h.timeout(15_000), () =>
      reduced.some((r) => r.name === 'sentinel'),
    );
    expect(reduced.filter((r) => r.name === 'total')).toHaveLength(1);
  });

  it('a handler can chain its follow-up job, sent only when it succeeds', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ page: number }>(name, {}, { failures: (e) => e.message === 'transient' });
    const pages: number[] = [];
    const chainKeys: string[] = [];
    let failedOnce = false;
    queue.process(async (job, ctx) => {
      if (job.data.page === 2 && !failedOnce) {
        failedOnce = true;
        ctx.enqueue('page', { page: 99 }); // discarded: this attempt fails
        throw new Error('transient');
      }
      pages.push(job.data.page);
      if (job.headers['queuekit-chain-key']) chainKeys.push(job.headers['queuekit-chain-key']);
      if (job.data.page < 5) ctx.enqueue('page', { page: job.data.page + 1 });
    });
    const first = await queue.send('page', { page: 1 }, { backoff: { type: 'fixed', delay: 50 } });
    await until('5 pages', h.timeout(30_000), () => pages.length >= 5);
    await queue.send('page', { page: 100 });
    await until('the sentinel page', h.timeout(15_000), () => pages.includes(100));
    expect(pages).toEqual([1, 2, 3, 4, 5, 100]);
    expect(chainKeys[0]).toBe(`${first}-next-0`);
  });
}
