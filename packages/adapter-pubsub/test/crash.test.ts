import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createQueue, type Job } from '@queuekit/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeDriver, pubsubEnv, uniqueName } from './helpers.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const workerScript = fileURLToPath(new URL('./fixtures/crash-worker.mjs', import.meta.url));
const LOCK_MS = 10_000;

let worker: ChildProcess | undefined;

beforeAll(() => {
  // The worker process runs the built package.
  execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: packageDir, stdio: 'inherit' });
});

afterAll(() => {
  if (worker && worker.exitCode === null) worker.kill('SIGKILL');
});

function firstLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let errors = '';
    const timer = setTimeout(
      () => reject(new Error(`worker printed nothing in ${timeoutMs} ms: ${errors}`)),
      timeoutMs,
    );
    child.stderr?.on('data', (chunk: Buffer) => {
      errors += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const end = buffer.indexOf('\n');
      if (end >= 0) {
        clearTimeout(timer);
        resolve(buffer.slice(0, end));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before taking the job: ${errors}`));
    });
  });
}

it('a worker SIGKILLed mid-job: the job is delivered again after the ack deadline, as attempt 2', async () => {
  const { projectId, emulatorHost } = pubsubEnv();
  const name = uniqueName('qk-crash');
  const driver = makeDriver();
  const queue = createQueue<{ n: number }>({ name, driver, ownsDriver: true });
  try {
    const id = await queue.send('work', { n: 7 });
    worker = spawn(process.execPath, [workerScript], {
      cwd: packageDir,
      env: {
        ...process.env,
        ...(emulatorHost ? { PUBSUB_EMULATOR_HOST: emulatorHost } : {}),
        QK_PROJECT: projectId,
        QK_QUEUE: name,
        QK_LOCK_MS: String(LOCK_MS),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const started = JSON.parse(await firstLine(worker, 60_000)) as {
      started: string;
      attempt: number;
      at: number;
    };
    expect(started).toMatchObject({ started: id, attempt: 1 });
    const exited = new Promise((resolve) => worker?.once('exit', (_code, signal) => resolve(signal)));
    worker.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const again = new Promise<{ job: Job<{ n: number }>; at: number }>((resolve) => {
      queue.process(async (job) => resolve({ job, at: Date.now() }), { lockDuration: LOCK_MS });
    });
    const { job, at } = await again;
    expect(job.id).toBe(id);
    expect(job.data).toEqual({ n: 7 });
    expect(job.attempt).toBe(2);
    // Not before the dead worker's ack deadline (set just before its handler started).
    expect(at - started.at).toBeGreaterThanOrEqual(LOCK_MS - 1000);
  } finally {
    await queue.close({ timeout: 1000 });
    const admin = makeDriver();
    await admin.deleteQueue(name).finally(() => admin.close());
  }
});
