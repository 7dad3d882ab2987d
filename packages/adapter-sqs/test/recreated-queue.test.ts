import { DeleteQueueCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { createQueue } from '@queuekit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { makeDriver, target, uniqueName } from './helpers.js';

// An emulator restarted under a running app (fauxqs, LocalStack keep nothing), or a queue deleted by hand, leaves the
// driver's cached URLs stale. Before, the queue's URL was forgotten but its dead-letter queue's was not, so every
// later send and receive failed with QueueDoesNotExist for good. Real AWS refuses to re-create a deleted name for 60 s.
describe.skipIf(target === 'aws')('queues deleted behind the driver', () => {
  const driver = makeDriver();
  const name = uniqueName('recreated');
  afterAll(async () => {
    await driver.deleteQueue(name).catch(() => undefined);
    await driver.close();
  });

  it('are created again on the next send, and the consumer takes the job', async () => {
    const queue = createQueue<{ n: number }>({ name, driver });
    await queue.send('first', { n: 1 });
    const raw = driver.client;
    for (const queueName of [name, `${name}-dlq`]) {
      const { QueueUrl } = await raw.send(new GetQueueUrlCommand({ QueueName: queueName }));
      await raw.send(new DeleteQueueCommand({ QueueUrl }));
    }
    // The first call after the deletion meets the stale URL; the one after it must work again.
    await queue.send('second', { n: 2 }).catch(() => undefined);
    await queue.send('third', { n: 3 });
    const seen: number[] = [];
    queue.process(async (job) => {
      seen.push(job.data.n);
    });
    const deadline = Date.now() + 15_000;
    while (!seen.includes(3) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen).toContain(3);
    expect(seen).not.toContain(1);
    await queue.close();
  });
});
