import { createQueue } from '@queuekit/core';
import { afterEach, expect, it } from 'vitest';
import { Resources, until, url } from './helpers.js';

const resources = new Resources();
afterEach(() => resources.cleanup());

it('createQueue({ url: "amqp://..." }) loads this adapter through the core registry', async () => {
  const name = resources.queue('url');
  const queue = createQueue<{ n: number }>({ name, url: `${url}?queueType=classic` });
  const seen: number[] = [];
  queue.process(async (job) => {
    seen.push(job.data.n);
  });
  await queue.send('via-url', { n: 1 }, { priority: 3 });
  await until('the job', 10_000, () => seen.length === 1);
  expect(seen).toEqual([1]);
  expect((await queue.driver()).provider).toBe('rabbitmq');
  await queue.close();
});

it('atomicFollowUps: false turns the transactional completion off (follow-ups sent, then ack)', async () => {
  const { createDriver } = await import('../src/index.js');
  const plain = await createDriver({ url: `${url}${url.includes('?') ? '&' : '?'}atomicFollowUps=false` });
  const atomic = await createDriver({ url });
  try {
    expect(plain.workflows?.atomicFollowUps).toBeUndefined();
    expect(atomic.workflows?.atomicFollowUps).toBe(true);
    const name = resources.queue('plain-chain');
    const queue = createQueue<{ page: number }>({ name, driver: plain });
    const pages: number[] = [];
    queue.process(async (job, ctx) => {
      pages.push(job.data.page);
      if (job.data.page < 3) ctx.enqueue('page', { page: job.data.page + 1 });
    });
    await queue.send('page', { page: 1 });
    await until('3 pages', 15_000, () => pages.length === 3);
    expect(pages).toEqual([1, 2, 3]);
    await queue.close();
  } finally {
    await Promise.allSettled([plain.close(), atomic.close()]);
  }
});
