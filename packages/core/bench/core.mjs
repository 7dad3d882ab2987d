// Core overhead on the in-memory driver: jobs/s for send and process, with and without job records.
// The memory broker is not the point (its take() scans the queue); compare the two lines of one run.
// Usage: pnpm --filter @queuekit/core bench   (after pnpm build)
import { createMemoryDriver, createQueue, MemoryBroker } from '../dist/index.js';

const JOBS = 10_000;
for (const results of [true, false]) {
  const queue = createQueue({
    name: 'bench',
    driver: createMemoryDriver({ broker: new MemoryBroker() }),
    ownsDriver: true,
    ...(results ? {} : { results: false }),
  });
  let started = performance.now();
  await Promise.all(Array.from({ length: JOBS }, (_, i) => queue.send('job', { i })));
  const send = JOBS / ((performance.now() - started) / 1000);
  started = performance.now();
  let done = 0;
  await new Promise((resolve) =>
    queue.process(
      async () => {
        if (++done === JOBS) resolve();
      },
      { concurrency: 50 },
    ),
  );
  const process = JOBS / ((performance.now() - started) / 1000);
  console.log(
    `core on memory, job records ${results ? 'on ' : 'off'}: send ${Math.round(send)} jobs/s, process ${Math.round(process)} jobs/s`,
  );
  await queue.close();
}
