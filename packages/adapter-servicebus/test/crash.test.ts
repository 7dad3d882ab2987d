import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deferred } from '@queuekit/conformance';
import { createQueue, type Job } from '@queuekit/core';
import { afterEach, beforeAll, expect, it } from 'vitest';
import { connectionString, deleteQueue, lockMs, makeDriver } from './helpers.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const worker = fileURLToPath(new URL('./fixtures/crash-worker.mjs', import.meta.url));
let child: ChildProcess | undefined;
const names: string[] = [];

beforeAll(() => {
  // The worker process imports the built package through the core's URL registry.
  if (!existsSync(`${packageDir}/dist/index.js`)) {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: packageDir, stdio: 'inherit' });
  }
});

afterEach(async () => {
  child?.kill('SIGKILL');
  child = undefined;
  for (const name of names.splice(0)) await deleteQueue(name);
});

/** Collects a child's stdout; `next(pattern)` resolves once the output so far matches. */
function output(process: ChildProcess): (pattern: RegExp) => Promise<RegExpExecArray> {
  let buffer = '';
  const waiters: (() => void)[] = [];
  process.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (const wake of waiters.splice(0)) wake();
  });
  return (pattern) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(buffer);
        if (match) resolve(match);
        else waiters.push(check);
      };
      process.once('exit', (code) => reject(new Error(`worker exited (${code}) before printing ${pattern}`)));
      check();
    });
}

it('a worker killed with SIGKILL mid-job: the message comes back after its lock expires, as attempt 2', async () => {
  const name = `qk-sb-crash-${randomUUID().slice(0, 8)}`;
  names.push(name);
  child = spawn(process.execPath, [worker, connectionString, name, String(lockMs)], {
    cwd: packageDir,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const next = output(child);
  await next(/READY/);
  const producer = createQueue<{ n: number }>({ name, driver: makeDriver(), ownsDriver: true });
  const id = await producer.send('work', { n: 7 });
  const started = await next(/STARTED (\S+) (\d+)/);
  expect(started[1]).toBe(id);
  expect(started[2]).toBe('1');

  child.kill('SIGKILL');
  const killedAt = Date.now();
  const again = deferred<Job<{ n: number }>>();
  producer.process(async (job) => again.resolve(job), { lockDuration: lockMs });
  const job = await again.promise;
  const waited = Date.now() - killedAt;
  expect(job.id).toBe(id);
  expect(job.data).toEqual({ n: 7 });
  expect(job.attempt).toBe(2);
  // Not before the lock the dead worker last renewed ran out (renewals every lockMs/3 at most).
  expect(waited).toBeGreaterThanOrEqual(lockMs / 3);
  await producer.close();
});
