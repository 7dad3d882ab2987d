import { createMemoryDriver, createQueue, MemoryBroker } from '@queuekit/core';
import { expect, it } from 'vitest';
import { describeConformance, until } from '../src/index.js';
import { CLOUD_LIKE_CAPABILITIES } from './cloud-like.js';

// One broker shared by every driver of a suite: several drivers are several connections.
const broker = new MemoryBroker();
describeConformance('memory', () => createMemoryDriver({ broker }), {
  lockMs: 500,
  // A case of this suite only, through the hook: a queue on a driver of another broker sees none of these jobs.
  additionalTests(h) {
    it('a job reaches consumers on drivers of its own broker only', async () => {
      const name = h.queueName();
      const producer = await h.queue<{ n: number }>(name);
      const elsewhere = h.adopt(
        createQueue<{ n: number }>({ name, driver: createMemoryDriver(), ownsDriver: true }),
      );
      const seen: string[] = [];
      elsewhere.process(async (job) => {
        seen.push(`elsewhere ${job.id}`);
      });
      const consumer = await h.queue<{ n: number }>(name);
      consumer.process(async (job) => {
        seen.push(`here ${job.id}`);
      });
      const id = await producer.send('only-here', { n: 1 });
      await until('the job', h.timeout(10_000), () => seen.length > 0);
      expect(seen).toEqual([`here ${id}`]);
    });
  },
});

// The same broker declaring what a cloud broker lacks, so the core's emulations run.
const limited = new MemoryBroker();
describeConformance(
  'memory (cloud-like capabilities)',
  () => createMemoryDriver({ broker: limited, limitCapabilities: CLOUD_LIKE_CAPABILITIES }),
  { lockMs: 500, queuePrefix: 'qkl' },
);
