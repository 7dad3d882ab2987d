import { createQueue } from '@queuekit/core';
import { type Job, Queue, Worker } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { readMeta } from '../src/index.js';
import { deletePrefix, eventually, REDIS_URL, testDriver, uniquePrefix, uniqueQueue } from './helpers.js';

const prefix = uniquePrefix('interop');
const connection = { url: REDIS_URL, maxRetriesPerRequest: null };
afterAll(async () => {
  await deletePrefix(prefix);
});

describe('interop with plain bullmq', () => {
  it('a job added with plain Queue.add is processed by a queuekit consumer', async () => {
    const name = uniqueQueue('in');
    const plain = new Queue(name, { connection, prefix });
    const queue = createQueue<{ to: string }>({ name, driver: testDriver(prefix), ownsDriver: true });
    try {
      const added = await plain.add('email', { to: 'a@example.com' }, { attempts: 2 });
      const seen: { id: string; name: string; data: unknown; attempt: number; maxAttempts: number }[] = [];
      queue.process(async (job) => {
        seen.push({
          id: job.id,
          name: job.name,
          data: job.data,
          attempt: job.attempt,
          maxAttempts: job.maxAttempts,
        });
      });
      await eventually('the queuekit consumer to get the plain job', () =>
        seen.length > 0 ? true : undefined,
      );
      expect(seen).toEqual([
        { id: added.id, name: 'email', data: { to: 'a@example.com' }, attempt: 1, maxAttempts: 2 },
      ]);
      await eventually('the job to leave the queue', async () =>
        (await plain.getJobCountByTypes('wait', 'active', 'prioritized')) === 0 ? true : undefined,
      );
    } finally {
      await queue.close();
      await plain.close();
    }
  });

  it("a plain job that keeps failing in queuekit uses its BullMQ attempts, then lands in BullMQ's failed set", async () => {
    const name = uniqueQueue('in-fail');
    const plain = new Queue(name, { connection, prefix });
    const queue = createQueue({
      name,
      driver: testDriver(prefix),
      ownsDriver: true,
      defaults: { backoff: { type: 'fixed', delay: 10 } },
    });
    try {
      const added = await plain.add('flaky', { x: 1 }, { attempts: 2 });
      const attempts: number[] = [];
      queue.process(async (job) => {
        attempts.push(job.attempt);
        throw new Error(`nope ${job.attempt}`);
      });
      const [failed] = await eventually('the job in the failed set', async () => {
        const jobs = await plain.getFailed();
        return jobs.length > 0 ? jobs : undefined;
      });
      expect(attempts).toEqual([1, 2]);
      expect(failed?.id).toBe(added.id);
      expect(failed?.failedReason).toBe('nope 2');
      const [dead] = await queue.deadLetters.list();
      expect(dead).toMatchObject({ id: added.id, reason: 'max-attempts', error: 'nope 2' });
    } finally {
      await queue.close();
      await plain.close();
    }
  });

  it('a job sent by queuekit is seen and processed by a plain bullmq Worker', async () => {
    const name = uniqueQueue('out');
    const queue = createQueue<{ n: number; tags: string[] }>({
      name,
      driver: testDriver(prefix),
      ownsDriver: true,
    });
    const received: Job[] = [];
    let worker: Worker | undefined;
    try {
      const id = await queue.send(
        'report',
        { n: 7, tags: ['a'] },
        { priority: 5, headers: { traceparent: 't-1' } },
      );
      worker = new Worker(
        name,
        async (job) => {
          received.push(job);
          return 'ok';
        },
        { connection, prefix },
      );
      await eventually('the plain worker to process the job', () => (received.length > 0 ? true : undefined));
      const [job] = received;
      expect(job?.name).toBe('report');
      expect(job?.data).toEqual({ n: 7, tags: ['a'] });
      const meta = readMeta(job?.opts);
      expect(meta?.id ?? job?.id).toBe(id);
      expect(meta?.h).toMatchObject({ traceparent: 't-1', 'qk-priority': '5' });
      expect(job?.opts.priority).toBe(5);
      expect(job?.opts.attempts).toBe(3);
      await eventually('the queue to be empty', async () => {
        const stats = await queue.stats();
        return stats.waiting === 0 && stats.active === 0 ? true : undefined;
      });
    } finally {
      await worker?.close();
      await queue.close();
    }
  });

  it('a queuekit job failed by a plain Worker is retried natively and then listed and redriven by queuekit', async () => {
    const name = uniqueQueue('out-fail');
    const queue = createQueue<{ n: number }>({ name, driver: testDriver(prefix), ownsDriver: true });
    const plainAttempts: number[] = [];
    let worker: Worker | undefined;
    try {
      const id = await queue.send('bad', { n: 1 }, { maxAttempts: 2, backoff: { type: 'fixed', delay: 10 } });
      worker = new Worker(
        name,
        async (job) => {
          plainAttempts.push(job.attemptsMade + 1);
          throw new Error('plain failure');
        },
        { connection, prefix },
      );
      const [dead] = await eventually('the dead letter', async () => {
        const list = await queue.deadLetters.list();
        return list.length > 0 ? list : undefined;
      });
      expect(plainAttempts).toEqual([1, 2]);
      expect(dead).toMatchObject({ id, reason: 'failed', error: 'plain failure' });
      await worker.close();
      worker = undefined;

      const processed: number[] = [];
      queue.process(async (job) => {
        processed.push(job.data.n);
      });
      expect(await queue.deadLetters.redrive()).toBe(1);
      await eventually('the redriven job to be processed by queuekit', () =>
        processed.length === 1 ? true : undefined,
      );
      expect(await queue.deadLetters.list()).toEqual([]);
    } finally {
      await worker?.close();
      await queue.close();
    }
  });
});
