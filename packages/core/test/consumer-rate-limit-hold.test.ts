import { describe, expect, it } from 'vitest';
import {
  createMemoryDriver,
  createQueue,
  type Delivery,
  MemoryBroker,
  MemoryStore,
  type ReceiveOptions,
} from '../src/index.js';
import { until } from './helpers.js';
import { wrapDriver } from './wrap.js';

describe('deliveries held back by the rate limit', () => {
  it('keep their locks while they wait for a later window longer than the lock', async () => {
    const duration = 1_500;
    const lockMs = 300;
    const name = `held-${Date.now()}`;
    const store = new MemoryStore();
    const inner = createMemoryDriver({ broker: new MemoryBroker() });
    let late = false;
    // The first batch arrives after the window its permits were counted in, and another consumer has
    // taken one of the next window's two permits: one job starts, the other waits a whole window.
    const driver = wrapDriver(inner, {
      receive: async (queue: string, options: ReceiveOptions): Promise<Delivery[]> => {
        if (!late) {
          late = true;
          const nextWindow = Math.floor(Date.now() / duration) + 1;
          await until(() => Date.now() >= nextWindow * duration + 10, 'the next window', 5_000);
          await store.increment(`qk:rate:${name}:${nextWindow}`, 1, { ttlMs: 2 * duration });
        }
        return inner.receive(queue, options);
      },
    });
    const queue = createQueue<number>({ name, driver, store, rateLimit: { max: 2, duration } });
    const runs: { data: number; attempt: number }[] = [];
    const errors: Error[] = [];
    queue.on('error', (error) => errors.push(error));
    await queue.sendBatch([
      { name: 'n', data: 1 },
      { name: 'n', data: 2 },
    ]);
    queue.process(
      async (job) => {
        runs.push({ data: job.data, attempt: job.attempt });
      },
      { concurrency: 2, lockDuration: lockMs },
    );
    await until(() => runs.length >= 2, 'both jobs', 10_000);
    // Both settled: nothing waiting, nothing locked (a lost lock would bring the held job back).
    await until(async () => (await inner.stats(name)).waiting === 0, 'an empty queue', 5_000);
    expect(await inner.stats(name)).toMatchObject({ waiting: 0, active: 0 });
    await queue.close();
    expect(runs.map((run) => run.attempt)).toEqual([1, 1]);
    expect(runs.map((run) => run.data).sort()).toEqual([1, 2]);
    expect(errors).toEqual([]);
  });
});
