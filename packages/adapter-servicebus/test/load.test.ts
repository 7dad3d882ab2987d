/**
 * Issue 12: under a mixed load the dead-letter queue must hold exactly the always-failing jobs.
 * Seen before the fix: 11 to 13 dead letters instead of 6, the extras jobs whose handler had succeeded.
 */
import { randomUUID } from 'node:crypto';
import { until } from '@queuekit/conformance';
import { createQueue, type Queue } from '@queuekit/core';
import { afterEach, expect, it } from 'vitest';
import { createTestQueue, deleteQueue, makeDriver, serverCounts, target } from './helpers.js';

const JOBS = 300;
const QUEUE_LOCK_MS = 5000;
const names: string[] = [];
const queues: Queue<{ n: number }>[] = [];

afterEach(async () => {
  for (const queue of queues.splice(0)) await queue.close({ timeout: 0 });
  for (const name of names.splice(0)) await deleteQueue(name);
});

it('300 jobs (2% always fail, 10% fail once), concurrency 8, 5 s lock: exactly the failing jobs are dead-lettered, once each', async () => {
  const name = `qk-sb-load-${randomUUID().slice(0, 8)}`;
  names.push(name);
  await createTestQueue(name, { lockDurationMs: QUEUE_LOCK_MS, maxDeliveryCount: 100 });
  const driver = makeDriver();
  const queue = createQueue<{ n: number }>({
    name,
    driver,
    ownsDriver: true,
    defaults: { maxAttempts: 3, backoff: { type: 'fixed', delay: 10 } },
  });
  queues.push(queue);
  const errors: Error[] = [];
  queue.on('error', (error: Error) => errors.push(error));
  const alwaysFails = (n: number) => n % 50 === 0; // 6 of 300
  const failsOnce = (n: number) => !alwaysFails(n) && n % 10 === 1; // 30 of 300
  const thrown = new Set<number>();
  const succeeded = new Map<number, number>();
  const runs = new Map<number, number>();

  const ids = await queue.sendBatch(Array.from({ length: JOBS }, (_, n) => ({ name: 'work', data: { n } })));
  const idOf = new Map(ids.map((id, n) => [id, n]));
  queue.process(
    async (job) => {
      const { n } = job.data;
      runs.set(n, (runs.get(n) ?? 0) + 1);
      if (alwaysFails(n)) throw new Error(`always ${n}`);
      if (failsOnce(n) && !thrown.has(n)) {
        thrown.add(n);
        throw new Error(`once ${n}`);
      }
      succeeded.set(n, (succeeded.get(n) ?? 0) + 1);
    },
    { concurrency: 8, lockDuration: QUEUE_LOCK_MS },
  );

  const expected = Array.from({ length: JOBS }, (_, n) => n).filter(alwaysFails);
  await until('every job completed or dead-lettered', 120_000, () => {
    const dead = expected.filter((n) => (runs.get(n) ?? 0) >= 3).length;
    return succeeded.size + dead === JOBS;
  });
  // Past twice the lock: whatever the broker would redeliver or dead-letter wrongly has done so.
  const settledAt = Date.now();
  await until('two locks passed', 4 * QUEUE_LOCK_MS, () => Date.now() - settledAt > 2 * QUEUE_LOCK_MS, 100);
  const records = await until('dead letters listed', 30_000, async () => {
    const list = await queue.deadLetters.list({ limit: 1000 });
    return list.length >= expected.length ? list : undefined;
  });

  const deadNumbers = records.map((record) => idOf.get(record.id)).sort((a, b) => (a ?? 0) - (b ?? 0));
  expect(deadNumbers).toEqual(expected);
  for (const record of records) {
    expect(record.reason).toBe('max-attempts');
    expect(record.attempts).toBe(3);
  }
  // Every other job ran its handler to success exactly once.
  for (let n = 0; n < JOBS; n++) {
    if (alwaysFails(n)) expect(runs.get(n)).toBe(3);
    else expect(succeeded.get(n), `job ${n}`).toBe(1);
  }
  if (target === 'test-server') {
    const counts = await serverCounts(name);
    expect(counts).toMatchObject({ active: 0, scheduled: 0, deadLettered: expected.length });
  }
  expect(errors).toEqual([]);
});
