import { spawnCrashWorker } from '@queuekit/conformance';
import { createQueue } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { RabbitMqQueueType } from '../src/index.js';
import { crashWorker, Resources, until, url } from './helpers.js';

const resources = new Resources();
afterEach(() => resources.cleanup());

describe.each<RabbitMqQueueType>(['classic', 'quorum'])('crash loop on %s queues', (queueType) => {
  it('a job that SIGKILLs every worker runs as attempts 1, 2 and is then dead-lettered once (max-attempts)', async () => {
    const name = resources.queue(`crash-loop-${queueType}`);
    const producer = createQueue<{ n: number }>({ name, driver: await resources.driver({ queueType }) });
    const id = await producer.send('work', { n: 1 }, { maxAttempts: 2 });

    const attempts: number[] = [];
    let outcome: string | undefined;
    // A fresh worker process after each death, a bounded number of them: a job that never dead-letters
    // (classic queues before the core kept the count: 1, 2, 2, 2, 2, 2) fails the test.
    for (let lives = 0; lives < 6 && outcome === undefined; lives++) {
      const worker = spawnCrashWorker(crashWorker(url, queueType), {
        queue: name,
        lockMs: 30_000,
        crashUntilAttempt: 1_000,
      });
      const line = await worker.lines.next('started or dead-lettered', 30_000, (l) =>
        l.event === 'started' || l.event === 'dead-lettered' ? l : undefined,
      );
      if (line.event === 'started') {
        attempts.push(line.attempt ?? Number.NaN);
        expect(await worker.exited).toBe('SIGKILL');
      } else {
        outcome = line.reason;
        // The dead-lettering worker's ack of the original may still be on its way: let it land first.
        await until('the original acked', 15_000, async () => (await producer.stats()).waiting === 0);
        await worker.kill();
      }
    }

    expect(attempts).toEqual([1, 2]);
    expect(outcome).toBe('max-attempts');
    const dead = await until('the dead letter listed', 15_000, async () => {
      const records = await producer.deadLetters.list();
      return records.length > 0 ? records : undefined;
    });
    expect(dead.map((record) => ({ id: record.id, reason: record.reason }))).toEqual([
      { id, reason: 'max-attempts' },
    ]);
    expect(await producer.stats()).toMatchObject({ waiting: 0, deadLettered: 1 });
  });
});
