import { type CrashWorker, spawnCrashWorker } from '@queuekit/conformance';
import { createQueue, type Job } from '@queuekit/core';
import { afterEach, expect, it } from 'vitest';
import { endpoint, makeDriver, uniqueName } from './helpers.js';

let worker: CrashWorker | undefined;

afterEach(async () => {
  await worker?.kill();
  worker = undefined;
});

it('a job held by a worker killed with SIGKILL comes back after its visibility timeout, as attempt 2', async () => {
  const name = uniqueName('crash');
  const driver = makeDriver();
  const queue = createQueue<{ n: number }>({ name, driver, ownsDriver: true });
  try {
    // The shared crash worker of @queuekit/conformance, on the built package; it hangs in the handler.
    worker = spawnCrashWorker(
      {
        module: new URL('../dist/index.js', import.meta.url).href,
        exportName: 'SqsDriver',
        options: endpoint ? { endpoint } : {},
      },
      { queue: name, lockMs: 2000, crashUntilAttempt: 1, mode: 'hang' },
    );
    await worker.lines.next('ready', 30_000, (line) => (line.event === 'ready' ? line : undefined));
    const id = await queue.send('work', { n: 7 });
    const started = await worker.lines.next('started', 30_000, (line) =>
      line.event === 'started' ? line : undefined,
    );
    expect(started).toMatchObject({ id, attempt: 1 });

    // A second worker polls while the first one is alive and extending its lock: it must not get the job.
    const received: { job: Job<{ n: number }>; at: number }[] = [];
    queue.process(
      async (job) => {
        received.push({ job, at: Date.now() });
      },
      { lockDuration: 2000 },
    );
    await new Promise((resolve) => setTimeout(resolve, 5000)); // the first worker holds the job past 2 locks
    expect(received).toHaveLength(0);

    const killedAt = Date.now();
    expect(await worker.kill()).toBe('SIGKILL');
    const deadline = Date.now() + 20_000;
    while (received.length === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received).toHaveLength(1);
    const [first] = received;
    expect(first?.job.id).toBe(id);
    expect(first?.job.data).toEqual({ n: 7 });
    expect(first?.job.attempt).toBe(2);
    expect(first?.at).toBeGreaterThan(killedAt);
  } finally {
    await queue.close({ timeout: 1000 });
    const admin = makeDriver();
    await admin.deleteQueue(name);
    await admin.close();
  }
});
