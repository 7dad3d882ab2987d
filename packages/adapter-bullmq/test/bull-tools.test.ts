import { createQueue, type Queue as QueuekitQueue, RetryAfterError } from '@queuekit/core';
import { type Job, Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { deletePrefix, eventually, REDIS_URL, testDriver, uniquePrefix, uniqueQueue } from './helpers.js';

/**
 * What Bull Board's buttons do, done with the same BullMQ calls the board makes (`job.retry('failed')`
 * without reset options, `job.promote()`, `job.changeDelay()`, `job.changePriority()`), against
 * queues that queuekit consumes.
 */

const prefix = uniquePrefix('tools');
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await deletePrefix(prefix);
});

function queuekit<T>(name: string, maxAttempts = 2): QueuekitQueue<T> {
  const queue = createQueue<T>({
    name,
    driver: testDriver(prefix),
    ownsDriver: true,
    defaults: { maxAttempts, backoff: { type: 'fixed', delay: 50 } },
  });
  closers.push(() => queue.close());
  return queue;
}

/** A plain BullMQ queue on the same Redis keys, as Bull Board holds one. */
function board(name: string): Queue {
  const queue = new Queue(name, { connection: { url: REDIS_URL }, prefix });
  closers.push(() => queue.close());
  return queue;
}

async function only(queue: Queue, state: 'failed' | 'completed' | 'delayed' | 'prioritized'): Promise<Job> {
  return eventually(`one ${state} job`, async () => {
    const jobs = await queue.getJobs([state]);
    return jobs.length === 1 ? jobs[0] : undefined;
  });
}

describe('Bull Board / BullMQ tools on queuekit jobs', () => {
  it("retry('failed') of a dead letter runs it again with a fresh attempt budget", async () => {
    const name = uniqueQueue('retry');
    const q = queuekit<{ n: number }>(name);
    let runs = 0;
    let fail = true;
    q.process(async () => {
      runs++;
      if (fail) throw new Error(`boom ${runs}`);
      return 'ok';
    });
    await q.send('work', { n: 1 });
    const bull = board(name);
    const dead = await only(bull, 'failed');
    expect(runs).toBe(2);
    fail = false;
    await dead.retry('failed');
    const done = await only(bull, 'completed');
    expect(runs).toBe(3);
    expect(done.id).toBe(dead.id);
    expect(done.returnvalue).toBe('ok');
  });

  it("retry('failed') restarts the count of a job whose attempts the core carried in qk-attempt", async () => {
    const name = uniqueQueue('carried');
    const q = queuekit<{ n: number }>(name);
    const seen: number[] = [];
    q.process(async (job) => {
      seen.push(job.attempt);
      if (seen.length === 1) throw new RetryAfterError(50, { countsAsAttempt: true });
      throw new Error(`boom ${seen.length}`);
    });
    const id = await q.send('work', { n: 1 });
    const bull = board(name);
    const dead = await only(bull, 'failed');
    expect(seen).toEqual([1, 2]);
    expect(await q.getJob(id)).toMatchObject({ state: 'failed', attempts: 2 });
    await dead.retry('failed');
    await eventually('the retried job to be dead-lettered again', async () => {
      const [job] = await bull.getJobs(['failed']);
      return job && seen.length === 4 ? job : undefined;
    });
    expect(seen).toEqual([1, 2, 1, 2]);
  });

  it("retry('completed') runs the job again, every time", async () => {
    const name = uniqueQueue('again');
    const q = queuekit<{ n: number }>(name, 1);
    let runs = 0;
    q.process(async () => {
      runs++;
      return runs;
    });
    const id = await q.send('work', { n: 1 });
    const bull = board(name);
    for (let round = 1; round <= 3; round++) {
      const done = await eventually(`run ${round} completed`, async () => {
        const [job] = await bull.getJobs(['completed']);
        return job && runs === round ? job : undefined;
      });
      if (round < 3) await done.retry('completed');
    }
    expect(await bull.getJobCounts('failed', 'completed')).toEqual({ failed: 0, completed: 1 });
    expect(await q.getJob(id)).toMatchObject({ state: 'completed', attempts: 1, result: 3 });
  });

  it('promote runs a delayed job now, as the one job the board shows (no copy, no phantom completion)', async () => {
    const name = uniqueQueue('promote');
    const q = queuekit<{ n: number }>(name);
    const ran: string[] = [];
    q.process(async (job) => {
      ran.push(job.id);
    });
    const id = await q.send('work', { n: 1 }, { delay: 60 * 60 * 1000 });
    const bull = board(name);
    const delayed = await only(bull, 'delayed');
    await delayed.promote();
    await eventually('the promoted job to run', () => (ran.length === 1 ? true : undefined));
    const done = await only(bull, 'completed');
    expect(done.id).toBe(delayed.id);
    expect(ran).toEqual([id]);
    expect(await bull.getJobCounts('delayed', 'completed')).toEqual({ delayed: 0, completed: 1 });
  });

  it('"Edit delay" (changeDelay) to a shorter delay runs the job then', async () => {
    const name = uniqueQueue('delay');
    const q = queuekit<{ n: number }>(name);
    let ran = 0;
    q.process(async () => {
      ran++;
    });
    await q.send('work', { n: 1 }, { delay: 60 * 60 * 1000 });
    const bull = board(name);
    const delayed = await only(bull, 'delayed');
    await delayed.changeDelay(100);
    await eventually('the job to run', () => (ran === 1 ? true : undefined));
    expect((await only(bull, 'completed')).id).toBe(delayed.id);
  });

  it('a RetryAfterError keeps one job with a stable id (no phantom completed entry)', async () => {
    const name = uniqueQueue('after');
    const q = queuekit<{ n: number }>(name);
    let runs = 0;
    q.process(async () => {
      runs++;
      if (runs === 1) throw new RetryAfterError(200, { message: 'busy' });
      return 'done';
    });
    await q.send('work', { n: 1 });
    const bull = board(name);
    const done = await eventually('the job to complete', async () => {
      const [job] = await bull.getJobs(['completed']);
      return job?.returnvalue === 'done' ? job : undefined;
    });
    expect(runs).toBe(2);
    expect(await bull.getJobCounts('completed', 'delayed', 'wait', 'prioritized')).toEqual({
      completed: 1,
      delayed: 0,
      wait: 0,
      prioritized: 0,
    });
    expect(done.returnvalue).toBe('done');
  });

  it('each attempt is counted and its error kept where the board shows them; the stack of the last one', async () => {
    const name = uniqueQueue('errors');
    const q = queuekit<{ n: number }>(name, 3);
    let runs = 0;
    q.process(async () => {
      runs++;
      throw new Error(`boom ${runs}`);
    });
    await q.send('work', { n: 1 });
    const dead = await only(board(name), 'failed');
    expect(dead.failedReason).toBe('boom 3');
    expect(dead.attemptsMade).toBe(3);
    expect(dead.stacktrace).toHaveLength(3);
    expect(dead.stacktrace?.[0]).toContain('boom 1');
    expect(dead.stacktrace?.[2]).toContain('boom 3');
    expect(dead.stacktrace?.[2]).toContain('bull-tools.test.ts');
  });

  it('Pause: a paused queue hands queuekit nothing until Resume', async () => {
    const name = uniqueQueue('pause');
    const d = testDriver(prefix);
    closers.push(() => d.close());
    const q = createQueue<{ n: number }>({ name, driver: d });
    closers.push(() => q.close());
    const bull = board(name);
    await bull.pause();
    await q.send('work', { n: 1 });
    const signal = new AbortController().signal;
    expect(await d.receive(name, { max: 1, waitMs: 300, lockMs: 5000, signal })).toEqual([]);
    await bull.resume();
    const [delivery] = await eventually('a delivery after resume', async () => {
      const got = await d.receive(name, { max: 1, waitMs: 300, lockMs: 5000, signal });
      return got.length > 0 ? got : undefined;
    });
    await delivery?.ack();
    expect(delivery?.deliveryCount).toBe(1);
  });

  it('"Change priority" is the priority queuekit reports (BullMQ 1 = queuekit 9)', async () => {
    const name = uniqueQueue('prio');
    const d = testDriver(prefix);
    closers.push(() => d.close());
    const q = createQueue<{ n: number }>({ name, driver: d });
    closers.push(() => q.close());
    await q.send('work', { n: 1 }, { priority: 2 });
    const bull = board(name);
    const job = await only(bull, 'prioritized');
    expect(job.priority).toBe(8);
    await job.changePriority({ priority: 1 });
    const [peeked] = await d.peek(name, 1);
    expect(peeked?.priority).toBe(9);
    const seen: number[] = [];
    q.process(async (j) => {
      seen.push(j.priority);
    });
    await eventually('the job to run', () => (seen.length === 1 ? true : undefined));
    expect(seen).toEqual([9]);
  });
});
