import { spawnCrashWorker } from '@queuekit/conformance';
import { createQueue, type Job } from '@queuekit/core';
import { afterEach, expect, it } from 'vitest';
import { Resources, url } from './helpers.js';

const resources = new Resources();
afterEach(() => resources.cleanup());

it('a consumer killed with SIGKILL mid-job: the unacked job is redelivered to another consumer', async () => {
  const name = resources.queue('crash');
  const producer = createQueue<{ n: number }>({ name, driver: await resources.driver() });
  const id = await producer.send('work', { n: 7 });

  // The shared crash worker of @queuekit/conformance, on the built package; it hangs in the handler.
  const worker = spawnCrashWorker(
    { module: new URL('../dist/index.js', import.meta.url).href, options: { url } },
    { queue: name, lockMs: 30_000, crashUntilAttempt: 1, mode: 'hang' },
  );
  const started = await worker.lines.next('started', 30_000, (line) =>
    line.event === 'started' ? line : undefined,
  );
  expect(started).toMatchObject({ id, attempt: 1 });
  expect(await worker.kill()).toBe('SIGKILL');

  const survivor = createQueue<{ n: number }>({ name, driver: await resources.driver() });
  const again = new Promise<Job<{ n: number }>>((resolve) => survivor.process(async (job) => resolve(job)));
  const job = await again;
  expect(job.id).toBe(id);
  expect(job.data).toEqual({ n: 7 });
  // Classic queues only flag "redelivered"; the attempt is still counted right.
  expect(job.attempt).toBe(2);
  await survivor.close();
});
