import { createQueue } from '@queuekit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { adminRedis, deletePrefix, eventually, testDriver, uniquePrefix, uniqueQueue } from './helpers.js';

const prefix = uniquePrefix('reconnect');
afterAll(async () => {
  await deletePrefix(prefix);
});

/** Kill every Redis connection of the driver labelled `label` and of the blocking connection of `queue`. */
async function killConnections(label: string, queue: string): Promise<number> {
  const admin = adminRedis();
  try {
    const blockingName = `${prefix}:${Buffer.from(queue).toString('base64')}`;
    const ids = String(await admin.client('LIST'))
      .split('\n')
      .filter((line) => line.includes(`name=${label}:`) || line.includes(`name=${blockingName} `))
      .map((line) => /\bid=(\d+)/.exec(line)?.[1])
      .filter((id): id is string => id !== undefined);
    let killed = 0;
    for (const id of ids) killed += Number(await admin.client('KILL', 'ID', id));
    return killed;
  } finally {
    admin.disconnect();
  }
}

describe('connection loss', () => {
  it('CLIENT KILL mid-stream and while idle: the consumer reconnects and no job is lost', async () => {
    const name = uniqueQueue('kill');
    const label = `qkt-kill-${name}`;
    const errors: string[] = [];
    const queue = createQueue<{ n: number }>({
      name,
      driver: testDriver(prefix, { redis: { connectionName: label } }),
      ownsDriver: true,
    });
    queue.on('error', (error) => errors.push(error.message));
    const processed = new Set<number>();
    queue.process(
      async (job) => {
        processed.add(job.data.n);
        await new Promise((resolve) => setImmediate(resolve));
      },
      { concurrency: 4, lockDuration: 2000 },
    );
    const sendRange = async (from: number, to: number) => {
      const entries = [];
      for (let n = from; n < to; n++) entries.push({ name: 'work', data: { n } });
      await queue.sendBatch(entries);
    };
    try {
      await sendRange(0, 300);
      await eventually('a third of the jobs processed', () => (processed.size >= 100 ? true : undefined));
      // Mid-stream: the consumer is fetching and acknowledging.
      expect(await killConnections(label, name)).toBeGreaterThanOrEqual(2);
      await sendRange(300, 400);
      await eventually('the first 400 jobs', () => (processed.size === 400 ? true : undefined), 30_000);

      // Idle: the consumer is blocked waiting for jobs.
      expect(await killConnections(label, name)).toBeGreaterThanOrEqual(2);
      await sendRange(400, 500);
      await eventually('all 500 jobs', () => (processed.size === 500 ? true : undefined), 30_000);
      await eventually('an empty queue with no dead letters', async () => {
        const stats = await queue.stats();
        return stats.waiting === 0 && stats.active === 0 && stats.deadLettered === 0 ? true : undefined;
      });
    } finally {
      await queue.close();
    }
  });
});
