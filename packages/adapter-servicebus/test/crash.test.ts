import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type CrashWorker, deferred, spawnCrashWorker } from '@queuekit/conformance';
import { createQueue, type Job } from '@queuekit/core';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { connectionString, deleteQueue, lockMs, makeDriver } from './helpers.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
let worker: CrashWorker | undefined;
const names: string[] = [];

beforeAll(() => {
  // The worker process loads the built package.
  if (!existsSync(`${packageDir}/dist/index.js`)) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: packageDir, stdio: 'inherit' });
  }
});

afterEach(async () => {
  await worker?.kill();
  worker = undefined;
  for (const name of names.splice(0)) await deleteQueue(name);
});

it('a worker killed with SIGKILL mid-job: the message comes back after its lock expires, as attempt 2', async () => {
  const name = `qk-sb-crash-${randomUUID().slice(0, 8)}`;
  names.push(name);
  // The shared crash worker of @queuekit/conformance, loading the adapter through its URL factory.
  worker = spawnCrashWorker(
    { module: new URL('../dist/index.js', import.meta.url).href, options: { url: connectionString } },
    { queue: name, lockMs, crashUntilAttempt: 1, mode: 'hang' },
  );
  await worker.lines.next('ready', 30_000, (line) => (line.event === 'ready' ? line : undefined));
  const producer = createQueue<{ n: number }>({ name, driver: makeDriver(), ownsDriver: true });
  const id = await producer.send('work', { n: 7 });
  const started = await worker.lines.next('started', 30_000, (line) =>
    line.event === 'started' ? line : undefined,
  );
  expect(started).toMatchObject({ id, attempt: 1 });

  const killed = worker.kill();
  const killedAt = Date.now();
  const again = deferred<Job<{ n: number }>>();
  producer.process(async (job) => again.resolve(job), { lockDuration: lockMs });
  expect(await killed).toBe('SIGKILL');
  const job = await again.promise;
  const waited = Date.now() - killedAt;
  expect(job.id).toBe(id);
  expect(job.data).toEqual({ n: 7 });
  expect(job.attempt).toBe(2);
  // Not before the lock the dead worker last renewed ran out (renewals every lockMs/3 at most).
  expect(waited).toBeGreaterThanOrEqual(lockMs / 3);
  await producer.close();
});
