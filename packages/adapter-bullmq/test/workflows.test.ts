import { ConfigError, createQueue, type Queue as QkQueue, RetryAfterError, utf8 } from '@queuekit/core';
import { type Job, Queue, Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import type { BullmqDriver, BullmqDriverOptions } from '../src/index.js';
import { adminRedis, deletePrefix, eventually, testDriver, uniquePrefix, uniqueQueue } from './helpers.js';

const prefix = uniquePrefix('workflows');
const closers: { close(): Promise<void> }[] = [];
const redis = adminRedis();
afterAll(async () => {
  await Promise.allSettled(closers.map((c) => c.close()));
  redis.disconnect();
  await deletePrefix(prefix);
});

function driver(options: BullmqDriverOptions = {}): BullmqDriver {
  const d = testDriver(prefix, options);
  closers.push(d);
  return d;
}

function queueOn<T>(name: string, options: BullmqDriverOptions = {}): QkQueue<T> {
  const q = createQueue<T>({ name, driver: testDriver(prefix, options), ownsDriver: true });
  closers.push(q);
  return q;
}

/** Plain BullMQ on the same queue, to look at what the driver stored. */
function plainQueue(name: string): Queue {
  const q = new Queue(name, { connection: adminRedis(), prefix });
  closers.push({ close: async () => q.close().then(() => q.disconnect()) });
  return q;
}

const signal = new AbortController().signal;

describe('getJob on BullMQ job data', () => {
  it('keeps progress (updateProgress) and the result (return value) on the BullMQ job itself', async () => {
    const name = uniqueQueue('jobs');
    const queue = queueOn<{ n: number }>(name);
    const plain = plainQueue(name);
    const id = await queue.send('square', { n: 3 });
    // A core-generated id is the BullMQ id: getJob reads the job directly.
    expect((await plain.getJob(id))?.name).toBe('square');
    const completed = new Set<string>();
    queue.on('completed', (job) => completed.add(job.id));
    queue.process(async (job, ctx) => {
      await ctx.progress({ step: 'half' });
      await ctx.progress(50);
      return { square: job.data.n ** 2 };
    });
    await eventually('the job completed', () => (completed.has(id) ? true : undefined));
    const stored = (await plain.getJob(id)) as Job;
    expect(await plain.getJobState(id)).toBe('completed');
    expect(stored.returnvalue).toEqual({ square: 9 });
    expect(stored.progress).toBe(50);
    expect(stored.opts.removeOnComplete).toEqual({ age: 86_400 });
    expect(await queue.getJob(id)).toMatchObject({
      id,
      name: 'square',
      state: 'completed',
      progress: 50,
      result: { square: 9 },
      attempts: 1,
      maxAttempts: 3,
    });
  });

  it('follows retry-after copies to the latest job, and shows in-place retries as retrying', async () => {
    const name = uniqueQueue('copies');
    const queue = queueOn<{ kind: string }>(name);
    const seen: string[] = [];
    queue.process(async (job) => {
      seen.push(`${job.data.kind}#${job.attempt}`);
      if (job.data.kind === 'later' && seen.filter((s) => s.startsWith('later')).length === 1)
        throw new RetryAfterError(1500);
      if (job.data.kind === 'flaky' && job.attempt === 1) throw new Error('first attempt fails');
      return `${job.data.kind} done`;
    });
    const later = await queue.send('later', { kind: 'later' });
    const flaky = await queue.send(
      'flaky',
      { kind: 'flaky' },
      { maxAttempts: 2, backoff: { type: 'fixed', delay: 1500 } },
    );
    await eventually('both first attempts', () => (seen.length >= 2 ? true : undefined));
    // The retry-after copy replaces the job in place: same BullMQ id, no second job, no index entry.
    expect(
      await eventually('the retry-after copy', () =>
        queue.getJob(later).then((s) => (s?.state === 'retrying' ? s : undefined)),
      ),
    ).toMatchObject({ attempts: 1 });
    expect(await redis.get(`${prefix}:${name}:qk:id:${later}`)).toBeNull();
    expect(await redis.exists(`${prefix}:${name}:${later}`)).toBe(1);
    // The failed attempt is released in place (moveToDelayed): same BullMQ job, one start made.
    expect(
      await eventually('the in-place retry', () =>
        queue.getJob(flaky).then((s) => (s?.state === 'retrying' ? s : undefined)),
      ),
    ).toMatchObject({ attempts: 1 });
    await eventually('both done', () => (seen.length >= 4 ? true : undefined));
    expect(
      await eventually('later completed', () =>
        queue.getJob(later).then((s) => (s?.state === 'completed' ? s : undefined)),
      ),
    ).toMatchObject({ result: 'later done', attempts: 1 });
    expect(
      await eventually('flaky completed', () =>
        queue.getJob(flaky).then((s) => (s?.state === 'completed' ? s : undefined)),
      ),
    ).toMatchObject({ result: 'flaky done', attempts: 2 });
  });

  it('finds jobId sends (ids BullMQ refuses included), plain BullMQ jobs and the latest of same-id raw sends', async () => {
    const name = uniqueQueue('ids');
    const d = driver();
    const queue = createQueue<{ n: number }>({ name, driver: d });
    closers.push(queue);
    const plain = plainQueue(name);
    await queue.send('dedup', { n: 1 }, { jobId: '42' });
    await queue.send('dedup', { n: 1 }, { jobId: 'order:7' });
    const foreign = await plain.add('foreign', { a: 1 }, { delay: 60_000 });
    expect(await queue.getJob('42')).toMatchObject({ name: 'dedup', state: 'waiting', attempts: 0 });
    expect(await queue.getJob('order:7')).toMatchObject({ state: 'waiting' });
    expect(await queue.getJob(String(foreign.id))).toMatchObject({
      name: 'foreign',
      state: 'delayed',
      attempts: 0,
    });
    expect(await queue.getJob('qk-42')).toBeUndefined();
    expect(await queue.getJob('nope')).toBeUndefined();
    // Without dedup, a second send of the same id is kept, and getJob reports the latest one.
    const raw = (n: number) => ({ id: 'raw', name: `raw-${n}`, body: utf8('{}'), headers: {} });
    await d.send(name, [raw(1)]);
    await d.send(name, [raw(2)]);
    expect(await queue.getJob('raw')).toMatchObject({ name: 'raw-2', state: 'waiting' });
  });

  it('with keepCompletedMs: 0 completed jobs are deleted and job records are left to the core', async () => {
    const name = uniqueQueue('nokeep');
    const d = driver({ keepCompletedMs: 0 });
    expect(d.workflows.jobs).toBeUndefined();
    const queue = createQueue<null>({ name, driver: d });
    closers.push(queue);
    const plain = plainQueue(name);
    const done = new Set<string>();
    queue.on('completed', (job) => done.add(job.id));
    queue.process(async () => 'r');
    const id = await queue.send('gone', null);
    await eventually('completed', () => (done.has(id) ? true : undefined));
    expect(await plain.getJob(id)).toBeUndefined();
    expect(await queue.getJob(id)).toMatchObject({ state: 'completed', result: 'r' });
  });
});

describe('recurring jobs on BullMQ job schedulers', () => {
  it('stores one scheduler and one pending run per schedule; runs carry their tick; list and remove', async () => {
    const name = uniqueQueue('sched');
    const queue = queueOn<{ k: number }>(name);
    const plain = plainQueue(name);
    await queue.schedule('every-2s', { every: 2000, data: { k: 1 } });
    await queue.schedule('hourly:paris', {
      cron: '0 * * * *',
      tz: 'Europe/Paris',
      data: { k: 2 },
      jobName: 'report',
      options: { priority: 5 },
    });
    await queue.schedule('every-2s', { every: 2000, data: { k: 1 } }); // an upsert changes nothing pending
    const schedulers = await plain.getJobSchedulers(0, -1, true);
    expect(schedulers.map((s) => [s.key, s.pattern ?? s.every, s.tz ?? null]).sort()).toEqual([
      ['every-2s', 2000, null],
      ['hourly%3Aparis', '0 * * * *', 'Europe/Paris'],
    ]);
    const pending = await plain.getDelayed();
    expect(pending.map((job) => job.id?.replace(/:\d+$/, '')).sort()).toEqual([
      'repeat:every-2s',
      'repeat:hourly%3Aparis',
    ]);
    const listed = await queue.schedules.list();
    expect(listed.map((s) => s.name)).toEqual(['every-2s', 'hourly:paris']);
    expect(listed[1]).toMatchObject({
      cron: '0 * * * *',
      tz: 'Europe/Paris',
      jobName: 'report',
      data: { k: 2 },
    });
    expect(listed[0]).toMatchObject({ every: 2000, data: { k: 1 } });
    expect(listed[0]?.lastRunAt).toBeUndefined();
    const firstTick = listed[0]?.nextRunAt?.getTime() ?? 0;
    expect(firstTick).toBeGreaterThan(Date.now());

    const runs: { id: string; tick: string; priority: number }[] = [];
    queue.process(async (job) => {
      runs.push({ id: job.id, tick: job.headers['queuekit-tick'] ?? '', priority: job.priority });
      return job.data.k;
    });
    await eventually('the first run', () => (runs.length >= 1 ? true : undefined));
    expect(runs[0]).toEqual({
      id: `repeat:every-2s:${firstTick}`,
      tick: new Date(firstTick).toISOString(),
      priority: 0,
    });
    const status = await eventually('the run completed', () =>
      queue.getJob(runs[0]?.id ?? '').then((s) => (s?.state === 'completed' ? s : undefined)),
    );
    expect(status).toMatchObject({ result: 1 });
    const after = await queue.schedules.list();
    expect(after[0]?.lastRunAt?.getTime()).toBe(firstTick);
    expect(after[0]?.nextRunAt?.getTime()).toBe(firstTick + 2000);

    expect(await queue.schedules.remove('hourly:paris')).toBe(true);
    expect((await plain.getDelayed()).some((job) => job.id?.includes('hourly'))).toBe(false);
    expect((await queue.schedules.list()).map((s) => s.name)).toEqual(['every-2s']);
    expect(await queue.schedules.remove('hourly:paris')).toBe(false);
    await queue.close();
  });
});

describe('missed ticks', () => {
  it('a run handed back unprocessed is skipped once the next tick is due: missed ticks coalesce into one run', async () => {
    const name = uniqueQueue('stale');
    const d = driver();
    const queue = createQueue<null>({ name, driver: d });
    closers.push(queue);
    await queue.schedule('s', { every: 1000, data: null });
    const connection = adminRedis();
    const plain = new Worker(name, null, { connection, prefix, autorun: false });
    closers.push({ close: async () => plain.close().then(() => connection.disconnect()) });
    // Take the first run (BullMQ schedules the next tick on take), then hand it back unprocessed.
    const taken = await eventually(
      'the first run',
      async () => (await plain.getNextJob('probe', { block: false })) ?? undefined,
      5000,
      50,
    );
    await redis.hincrby(`${prefix}:${name}:${taken.id}`, 'ats', -1);
    await taken.moveToWait('probe');
    const firstTick = Number(String(taken.id).split(':').at(-1));
    await eventually(
      'the next tick due',
      () => (Date.now() >= firstTick + 1050 ? true : undefined),
      5000,
      20,
    );
    const got = await eventually('a delivery', async () => {
      const batch = await d.receive(name, { max: 5, waitMs: 500, lockMs: 5000, signal });
      return batch.length > 0 ? batch : undefined;
    });
    expect(got.map((delivery) => delivery.headers['queuekit-tick'])).toEqual([
      new Date(firstTick + 1000).toISOString(),
    ]);
    expect(await queue.getJob(String(taken.id))).toMatchObject({ state: 'completed' });
    await Promise.all(got.map((delivery) => delivery.ack()));
  });
});

describe('rate limit on BullMQ limiter', () => {
  it('setRateLimit applies to consumers already running and to those starting later, across drivers', async () => {
    const queue = uniqueQueue('limit');
    const a = driver();
    const b = driver();
    await a.send(
      queue,
      Array.from({ length: 5 }, (_, i) => ({ id: `j${i}`, name: 'n', body: utf8('{}'), headers: {} })),
    );
    // a's receiver exists before the limit is set; its ack fetches the next job under the limit.
    const [first] = await a.receive(queue, { max: 1, waitMs: 1000, lockMs: 5000, signal });
    const limit = { max: 2, duration: 1500 };
    await a.workflows.setRateLimit(queue, limit);
    await b.workflows.setRateLimit(queue, limit);
    const started = Date.now();
    await first?.ack();
    const fromA = await a.receive(queue, { max: 5, waitMs: 1000, lockMs: 5000, signal });
    expect(fromA).toHaveLength(2);
    // The window is full for b too: the counter is BullMQ's, in Redis.
    expect(await redis.exists(`${prefix}:${queue}:limiter`)).toBe(1);
    const fromB = await b.receive(queue, { max: 5, waitMs: 300, lockMs: 5000, signal });
    expect(fromB).toHaveLength(0);
    const next = await b.receive(queue, { max: 5, waitMs: 3000, lockMs: 5000, signal });
    expect(next.length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    await Promise.all([...fromA, ...next].map((delivery) => delivery.ack()));
    await expect(a.workflows.setRateLimit(queue, { max: 0, duration: 1000 })).rejects.toBeInstanceOf(
      ConfigError,
    );
  });
});
