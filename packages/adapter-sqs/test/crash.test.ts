import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createQueue, type Job } from '@queuekit/core';
import { afterEach, expect, it } from 'vitest';
import { endpoint, makeDriver, uniqueName } from './helpers.js';

const worker = fileURLToPath(new URL('./fixtures/crash-worker.mjs', import.meta.url));
let child: ChildProcess | undefined;

afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** Resolve with the first stdout line of `proc` that starts with `prefix`. */
function lineStartingWith(proc: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      for (const line of buffer.split('\n')) {
        if (line.startsWith(prefix)) {
          proc.stdout?.off('data', onData);
          resolve(line);
          return;
        }
      }
    };
    proc.stdout?.on('data', onData);
    proc.once('exit', (code, signal) =>
      reject(new Error(`worker exited (${code ?? signal}) before "${prefix}"`)),
    );
  });
}

it('a job held by a worker killed with SIGKILL comes back after its visibility timeout, as attempt 2', async () => {
  const name = uniqueName('crash');
  const driver = makeDriver();
  const queue = createQueue<{ n: number }>({ name, driver, ownsDriver: true });
  try {
    child = spawn(process.execPath, [worker], {
      env: { ...process.env, SQS_ENDPOINT: endpoint, QUEUE_NAME: name },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await lineStartingWith(child, 'ready');
    const id = await queue.send('work', { n: 7 });
    const started = await lineStartingWith(child, 'started');
    expect(started).toBe(`started ${id} 1`);

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

    const exited = new Promise((resolve) => child?.once('exit', resolve));
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await exited;
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
