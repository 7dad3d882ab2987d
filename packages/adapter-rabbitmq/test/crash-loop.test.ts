import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createQueue } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { RabbitMqQueueType } from '../src/index.js';
import { Resources, until, url } from './helpers.js';

const resources = new Resources();
afterEach(() => resources.cleanup());

const worker = fileURLToPath(new URL('./fixtures/crash-loop-worker.mjs', import.meta.url));

/** One worker process: the attempts it started (it SIGKILLs itself in each job) and its exit. */
function startWorker(name: string, queueType: RabbitMqQueueType) {
  const child = spawn(process.execPath, [worker, url, name, queueType], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const attempts: number[] = [];
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    for (let newline = pending.indexOf('\n'); newline >= 0; newline = pending.indexOf('\n')) {
      const line = JSON.parse(pending.slice(0, newline)) as { attempt?: number };
      pending = pending.slice(newline + 1);
      if (typeof line.attempt === 'number') attempts.push(line.attempt);
    }
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => resolve(signal)),
  );
  return { child, attempts, exited };
}

describe.each<RabbitMqQueueType>(['classic', 'quorum'])('crash loop on %s queues', (queueType) => {
  it('a job that SIGKILLs every worker runs as attempts 1, 2 and is then dead-lettered once (max-attempts)', async () => {
    const name = resources.queue(`crash-loop-${queueType}`);
    const producer = createQueue<{ n: number }>({ name, driver: await resources.driver({ queueType }) });
    const id = await producer.send('work', { n: 1 }, { maxAttempts: 2 });

    const attempts: number[] = [];
    // A fresh worker after each death; a bounded number of them, so a job that never dead-letters fails the test.
    for (let workers = 0; workers < 6; workers++) {
      const current = startWorker(name, queueType);
      const outcome = await Promise.race([
        current.exited.then((signal) => ({ died: signal })),
        until('the dead letter', 30_000, async () => {
          const dead = await producer.deadLetters.list();
          return dead.length > 0 ? dead : undefined;
        }).then(() => ({ died: undefined })),
      ]);
      attempts.push(...current.attempts);
      if (outcome.died === undefined) {
        current.child.kill('SIGKILL');
        await current.exited;
        break;
      }
      expect(outcome.died).toBe('SIGKILL');
    }

    expect(attempts).toEqual([1, 2]);
    const dead = await producer.deadLetters.list();
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ id, reason: 'max-attempts' });
    const stats = await producer.stats();
    expect(stats.waiting).toBe(0);
    expect(stats.deadLettered).toBe(1);
  });
});
