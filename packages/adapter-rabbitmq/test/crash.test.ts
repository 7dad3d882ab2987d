import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createQueue, type Job } from '@queuekit/core';
import { afterEach, expect, it } from 'vitest';
import { Resources, url } from './helpers.js';

const resources = new Resources();
afterEach(() => resources.cleanup());

/** Resolve with the first JSON line of `lines` that `match` accepts. */
function waitForLine<T>(
  child: ReturnType<typeof spawn>,
  match: (value: Record<string, unknown>) => T | undefined,
) {
  return new Promise<T>((resolve, reject) => {
    let pending = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        const found = match(JSON.parse(line) as Record<string, unknown>);
        if (found !== undefined) resolve(found);
        newline = pending.indexOf('\n');
      }
    });
    child.once('exit', (code) => reject(new Error(`child exited early with ${code}`)));
  });
}

it('a consumer killed with SIGKILL mid-job: the unacked job is redelivered to another consumer', async () => {
  const name = resources.queue('crash');
  const producer = createQueue<{ n: number }>({ name, driver: await resources.driver() });
  const id = await producer.send('work', { n: 7 });

  const child = spawn(
    process.execPath,
    [fileURLToPath(new URL('./fixtures/crash-consumer.mjs', import.meta.url)), url, name],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const started = await waitForLine(child, (line) => (typeof line.started === 'string' ? line : undefined));
  expect(started).toEqual({ started: id, attempt: 1 });
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  const [, signal] = await exited;
  expect(signal).toBe('SIGKILL');

  const survivor = createQueue<{ n: number }>({ name, driver: await resources.driver() });
  const again = new Promise<Job<{ n: number }>>((resolve) => survivor.process(async (job) => resolve(job)));
  const job = await again;
  expect(job.id).toBe(id);
  expect(job.data).toEqual({ n: 7 });
  // Classic queues only flag "redelivered": the driver reports deliveryCount 2, so attempt 2.
  expect(job.attempt).toBe(2);
  await survivor.close();
});
