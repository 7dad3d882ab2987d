import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type CrashWorker, spawnCrashWorker } from '@queuekit/conformance';
import { createQueue, type Job } from '@queuekit/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeDriver, pubsubEnv, uniqueName } from './helpers.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const LOCK_MS = 10_000;

let worker: CrashWorker | undefined;

beforeAll(() => {
  // The worker process runs the built package.
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: packageDir, stdio: 'inherit' });
});

afterAll(async () => {
  await worker?.kill();
});

it('a worker SIGKILLed mid-job: the job is delivered again after the ack deadline, as attempt 2', async () => {
  const { projectId, emulatorHost } = pubsubEnv();
  const name = uniqueName('qk-crash');
  const driver = makeDriver();
  const queue = createQueue<{ n: number }>({ name, driver, ownsDriver: true });
  try {
    const id = await queue.send('work', { n: 7 });
    // The shared crash worker of @queuekit/conformance; it hangs in the handler until killed.
    worker = spawnCrashWorker(
      {
        module: new URL('../dist/index.js', import.meta.url).href,
        exportName: 'PubSubDriver',
        options: { projectId },
        ...(emulatorHost ? { env: { PUBSUB_EMULATOR_HOST: emulatorHost } } : {}),
      },
      { queue: name, lockMs: LOCK_MS, crashUntilAttempt: 1, mode: 'hang' },
    );
    const started = await worker.lines.next('started', 60_000, (line) =>
      line.event === 'started' ? line : undefined,
    );
    const startedAt = Date.now();
    expect(started).toMatchObject({ id, attempt: 1 });
    expect(await worker.kill()).toBe('SIGKILL');

    const again = new Promise<{ job: Job<{ n: number }>; at: number }>((resolve) => {
      queue.process(async (job) => resolve({ job, at: Date.now() }), { lockDuration: LOCK_MS });
    });
    const { job, at } = await again;
    expect(job.id).toBe(id);
    expect(job.data).toEqual({ n: 7 });
    expect(job.attempt).toBe(2);
    // Not before the dead worker's ack deadline (set just before its handler started).
    expect(at - startedAt).toBeGreaterThanOrEqual(LOCK_MS - 1000);
  } finally {
    await queue.close({ timeout: 1000 });
    const admin = makeDriver();
    await admin.deleteQueue(name).finally(() => admin.close());
  }
});
