import { describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue, MemoryBroker, MemoryStore } from '../src/index.js';
import { until } from './helpers.js';

describe('rate limit throughput', () => {
  it('a consumer asking for more jobs than it receives still reaches max jobs per window', async () => {
    const driver = createMemoryDriver({ broker: new MemoryBroker() });
    // One long window: every job below must start in it (the limiter used to take 8 permits per receive).
    const rateLimit = { max: 10, duration: 600_000 };
    const store = new MemoryStore();
    const queue = createQueue<number>({ name: 'limited', driver, store, rateLimit });
    const started: number[] = [];
    queue.process(
      async (job) => {
        started.push(job.data);
      },
      { concurrency: 8, pollInterval: 50 },
    );
    for (let i = 0; i < 10; i++) {
      await queue.send('n', i);
      await until(() => started.length > i, `job ${i} started`, 20_000);
    }
    expect(started).toEqual(Array.from({ length: 10 }, (_, i) => i));
    await queue.close({ timeout: 1_000 });
    await driver.close();
  });
});
