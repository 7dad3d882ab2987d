import { QueuekitError, UnrecoverableError } from '@queuekit/core';
import { expect, it } from 'vitest';
import { expectError, rejectsWith } from '../expect-error.js';
import { deferred, type Harness, until } from '../harness.js';

/** Graceful close, lock extension and stats. */
export function lifecycleCases(h: Harness): void {
  it('close() drains in-flight jobs, and jobs sent during close are not lost', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ i: number }>(name);
    const ids = await queue.sendBatch(Array.from({ length: 4 }, (_, i) => ({ name: 'drain', data: { i } })));
    const completed = new Set<string>();
    let active = 0;
    const allActive = deferred();
    queue.process(
      async (job) => {
        if (++active === 4) allActive.resolve();
        await new Promise((resolve) => setTimeout(resolve, 300)); // the job's own work
        completed.add(job.id);
      },
      { concurrency: 4 },
    );
    await allActive.promise;
    const closing = queue.close({ timeout: h.timeout(20_000) });
    const duringClose = await Promise.allSettled([10, 11, 12].map((i) => queue.send('during-close', { i })));
    await closing;
    expect([...completed].sort()).toEqual([...ids].sort());

    const accepted: string[] = [];
    for (const result of duringClose) {
      if (result.status === 'fulfilled') accepted.push(result.value);
      else expectError(result.reason, 'ERR_QUEUE_CLOSED');
    }
    await rejectsWith(queue.send('after-close', { i: 99 }), 'ERR_QUEUE_CLOSED');

    const next = await h.queue<{ i: number }>(name);
    const seen = new Map<string, number>();
    next.process(async (job) => {
      seen.set(job.id, (seen.get(job.id) ?? 0) + 1);
    });
    await until('the jobs sent during close', h.timeout(20_000), () => accepted.every((id) => seen.has(id)));
    expect(ids.some((id) => seen.has(id))).toBe(false);
  });

  it('a handler longer than its lock keeps the job through automatic lock extension', async () => {
    const name = h.queueName();
    const first = await h.queue<null>(name);
    const second = await h.queue<null>(name);
    const lockDuration = h.lockMs;
    const runs: string[] = [];
    const completed = deferred<unknown>();
    // Whichever consumer the broker picks must keep the job: a lost lock would hand it to the other
    // one while the first is still inside its 3x-lock-long handler, giving a second run before completion.
    for (const [who, queue] of [
      ['first', first],
      ['second', second],
    ] as const) {
      queue.process(
        async () => {
          runs.push(who);
          await new Promise((resolve) => setTimeout(resolve, lockDuration * 3)); // the job's own long work
          return 'long';
        },
        { lockDuration },
      );
      queue.on('completed', (_job, result) => completed.resolve(result));
    }
    await first.send('long', null);
    expect(await completed.promise).toBe('long');
    expect(runs).toHaveLength(1);
  });

  it('stats() reflects waiting, delayed and dead-lettered jobs as far as the driver tells', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ kind: string }>(
      name,
      {},
      { failures: (e) => QueuekitError.is(e, 'ERR_UNRECOVERABLE') },
    );
    await queue.send('now', { kind: 'a' });
    await queue.send('now', { kind: 'b' });
    await queue.send('later', { kind: 'c' }, { delay: 120_000 });
    const initial = await queue.stats();
    await until('2 waiting and 1 delayed', h.timeout(15_000), async () => {
      const stats = await queue.stats();
      return (stats.waiting ?? 2) === 2 && (stats.delayed ?? 1) === 1;
    });
    const dead = deferred();
    queue.on('dead-lettered', () => dead.resolve());
    let handled = 0;
    queue.process(async (job) => {
      handled++;
      if (job.data.kind === 'a') throw new UnrecoverableError('dead on arrival');
    });
    await dead.promise;
    await until('2 handled', h.timeout(15_000), () => handled === 2);
    const after = await until('1 dead-lettered, 0 waiting', h.timeout(15_000), async () => {
      const stats = await queue.stats();
      return (stats.deadLettered ?? 1) === 1 && (stats.waiting ?? 0) === 0 && (stats.delayed ?? 1) === 1
        ? stats
        : undefined;
    });
    if (initial.deadLettered !== undefined) expect(after.deadLettered).toBe(1);
  });
}
