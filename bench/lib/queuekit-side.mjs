import { createQueue } from '@queuekit/core';

/**
 * The queuekit contender on any driver: the core's Queue with its defaults (job records on), a no-op
 * async handler, `sendBatch` for bulk enqueue and `send` for single jobs.
 */
export async function queuekitSide(driver, name, queueOptions = {}) {
  const queue = createQueue({ name, driver, ...queueOptions });
  queue.on('error', (error) => console.error(`  queuekit error on ${name}: ${error.message}`));
  await queue.stats(); // declares the queue outside the timing, as the native contenders do
  return {
    sendBatch: (items) => queue.sendBatch(items.map((data) => ({ name: 'bench', data }))),
    sendOne: (data) => queue.send('bench', data),
    consume(concurrency, onStart, onDone) {
      queue.on('completed', onDone);
      queue.process(
        async (job) => {
          onStart(job.data);
        },
        { concurrency },
      );
    },
    async close() {
      await queue.close({ timeout: 5_000 });
      await driver.deleteQueue?.(name).catch(() => undefined);
      await driver.close();
    },
  };
}
