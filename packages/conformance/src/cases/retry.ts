import { QueuekitError, RetryAfterError, UnrecoverableError } from '@queuekit/core';
import { expect, it } from 'vitest';
import { deferred, type Harness, until } from '../harness.js';

/** Attempts, backoff, unrecoverable errors, retry-after and the event sequence. */
export function retryCases(h: Harness): void {
  it('counts attempts 1..N across redeliveries, then dead-letters with the reason and last error', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ v: string }>(name, {}, { failures: (e) => /^failure \d$/.test(e.message) });
    const attempts: number[] = [];
    const dead = deferred<{ reason: string; error?: string }>();
    queue.on('dead-lettered', (info) => dead.resolve(info));
    queue.process(async (job) => {
      attempts.push(job.attempt);
      throw new Error(`failure ${job.attempt}`);
    });
    const id = await queue.send(
      'flaky',
      { v: 'x' },
      { maxAttempts: 3, backoff: { type: 'fixed', delay: 100 } },
    );
    const info = await dead.promise;
    expect(attempts).toEqual([1, 2, 3]);
    expect(info).toMatchObject({ reason: 'max-attempts', error: 'failure 3' });
    const list = await until('the dead letter listed', h.timeout(10_000), async () => {
      const records = await queue.deadLetters.list();
      return records.length === 1 ? records : undefined;
    });
    expect(list[0]).toMatchObject({
      id,
      name: 'flaky',
      data: { v: 'x' },
      reason: 'max-attempts',
      error: 'failure 3',
      attempts: 3,
    });
  });

  it('waits the exponential backoff between attempts (lower bound exact, upper bound loose)', async () => {
    const name = h.queueName();
    const queue = await h.queue<null>(name, {}, { failures: (e) => e.message === 'again' });
    const times: number[] = [];
    const done = deferred();
    queue.process(async (job) => {
      times.push(Date.now());
      if (job.attempt < 3) throw new Error('again');
      done.resolve();
    });
    await queue.send('backoff', null, {
      maxAttempts: 3,
      backoff: { type: 'exponential', delay: 400, jitter: 0 },
    });
    await done.promise;
    const [t1 = 0, t2 = 0, t3 = 0] = times;
    expect(t2 - t1).toBeGreaterThanOrEqual(400);
    expect(t3 - t2).toBeGreaterThanOrEqual(800);
    const slack = h.timeout(10_000) + h.lockMs;
    expect(t2 - t1).toBeLessThan(400 + slack);
    expect(t3 - t2).toBeLessThan(800 + slack);
  });

  it('an UnrecoverableError skips the remaining attempts and goes straight to the dead letters', async () => {
    const name = h.queueName();
    const queue = await h.queue<null>(
      name,
      {},
      { failures: (e) => QueuekitError.is(e, 'ERR_UNRECOVERABLE') },
    );
    const attempts: number[] = [];
    const dead = deferred<{ reason: string; error?: string }>();
    queue.on('dead-lettered', (info) => dead.resolve(info));
    queue.process(async (job) => {
      attempts.push(job.attempt);
      throw new UnrecoverableError('bad input, do not retry');
    });
    await queue.send('doomed', null, { maxAttempts: 5, backoff: { type: 'fixed', delay: 50 } });
    expect(await dead.promise).toMatchObject({ reason: 'unrecoverable', error: 'bad input, do not retry' });
    expect(attempts).toEqual([1]);
  });

  it('a RetryAfterError brings the job back after that delay without using an attempt', async () => {
    const name = h.queueName();
    const queue = await h.queue<null>(name, {}, { failures: (e) => QueuekitError.is(e, 'ERR_RETRY_AFTER') });
    const runs: { attempt: number; at: number }[] = [];
    const done = deferred();
    queue.process(async (job) => {
      runs.push({ attempt: job.attempt, at: Date.now() });
      if (runs.length === 1) throw new RetryAfterError(700);
      done.resolve();
    });
    await queue.send('rate-limited', null, { maxAttempts: 1 });
    await done.promise;
    expect(runs.map((r) => r.attempt)).toEqual([1, 1]);
    expect((runs[1]?.at ?? 0) - (runs[0]?.at ?? 0)).toBeGreaterThanOrEqual(700);
  });

  it('fires active, progress, failed, retrying, active, completed in order', async () => {
    const name = h.queueName();
    const queue = await h.queue<null>(name, {}, { failures: (e) => e.message === 'first' });
    const events: string[] = [];
    const done = deferred();
    queue.on('active', (job) => events.push(`active:${job.attempt}`));
    queue.on('progress', (_job, value) => events.push(`progress:${JSON.stringify(value)}`));
    queue.on('failed', (job, error) => events.push(`failed:${job.attempt}:${error.message}`));
    queue.on('retrying', (job) => events.push(`retrying:${job.attempt}`));
    queue.on('completed', (job, result) => {
      events.push(`completed:${job.attempt}:${String(result)}`);
      done.resolve();
    });
    queue.process(async (job, ctx) => {
      await ctx.progress(50);
      if (job.attempt === 1) throw new Error('first');
      return 'ok';
    });
    await queue.send('evented', null, { backoff: { type: 'fixed', delay: 50 } });
    await done.promise;
    expect(events).toEqual([
      'active:1',
      'progress:50',
      'failed:1:first',
      'retrying:1',
      'active:2',
      'progress:50',
      'completed:2:ok',
    ]);
  });
}
