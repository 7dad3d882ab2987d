// SIGTERM to a Nest application with `enableShutdownHooks()`: the job running then finishes and completes
// before the process exits, on memory:// and on Redis. The application is a child process, as in production.
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { until, uniqueName } from './helpers.js';

const REDIS_URL = process.env.QUEUEKIT_REDIS_URL ?? 'redis://127.0.0.1:6379';
const app = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'sigterm-app.mjs');

const children = new Set<ChildProcess>();
// A run that failed leaves no application behind.
afterEach(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
});

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe.each([
  ['memory', 'memory://'],
  ['redis (bullmq)', REDIS_URL],
])('SIGTERM on %s', (_label, url) => {
  it('waits for the job in flight, which completes, then runs the shutdown hooks and exits with nothing left open', async () => {
    const child = spawn(process.execPath, [app, url, uniqueName('nest-sigterm')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk) => {
      stdout += String(chunk);
    });
    child.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const exit = exited(child);
    await until(() => stdout.includes('started ') || child.exitCode !== null, 'the job to start', 20_000);
    const id = /started (\S+)/.exec(stdout)?.[1];
    expect(id, stderr).toBeDefined();
    child.kill('SIGTERM');
    const { code, signal } = await exit;
    expect(stdout.trim().split('\n'), stderr).toEqual([
      `started ${id}`,
      'finished',
      `completed ${id}`,
      'shutdown SIGTERM',
    ]);
    // Nest re-raises the signal once its hooks are done; the fixture's own SIGTERM listener absorbs it, so the
    // process ends by itself, which it does only once nothing is left open (every broker connection closed).
    expect({ code, signal }).toEqual({ code: 0, signal: null });
  });
});
