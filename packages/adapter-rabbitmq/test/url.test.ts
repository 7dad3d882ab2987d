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
