import { createQueue } from '@queuekit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { makeDriver, uniqueName } from './helpers.js';

// An emulator restarted under a running app keeps nothing, and a topic or subscription can be deleted by hand.
// Before, the driver kept the queue's setup for good, so every later publish and pull failed with NOT_FOUND.
describe('topic and subscription deleted behind the driver', () => {
  const driver = makeDriver();
  const other = makeDriver();
  const name = uniqueName('recreated');
  afterAll(async () => {
    await driver.deleteQueue(name).catch(() => undefined);
    await Promise.all([driver.close(), other.close()]);
  });

  it('are created again, and the running consumer takes the next job', async () => {
    const queue = createQueue<{ n: number }>({ name, driver });
    const seen: number[] = [];
    const errors: string[] = [];
    queue.on('error', (error) => errors.push(error.message));
    queue.process(async (job) => {
      seen.push(job.data.n);
    });
    const waitFor = async (n: number) => {
      const deadline = Date.now() + 30_000;
      while (!seen.includes(n) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
    };
    await queue.send('first', { n: 1 });
    await waitFor(1);
    await other.deleteQueue(name);
    // The call that meets the missing topic fails; the next one sets the queue up again.
    await queue.send('second', { n: 2 }).catch(() => undefined);
    await queue.send('third', { n: 3 });
    await waitFor(3);
    expect(seen).toContain(3);
    await queue.close();
  }, 60_000);
});
