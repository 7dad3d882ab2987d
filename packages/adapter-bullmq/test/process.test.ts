import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createQueue } from '@queuekit/core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  adminRedis,
  deletePrefix,
  eventually,
  REDIS_URL,
  testDriver,
  uniquePrefix,
  uniqueQueue,
} from './helpers.js';

const worker = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'worker.mjs');
const prefix = uniquePrefix('process');
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await deletePrefix(prefix);
});

function startWorker(...args: string[]): { child: ChildProcess; lines: string[] } {
  const child = spawn(process.execPath, [worker, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: string[] = [];
  if (child.stdout) createInterface({ input: child.stdout }).on('line', (line) => lines.push(line));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.on('exit', (code) => {
    if (code) lines.push(`exit ${code}: ${stderr}`);
  });
  return { child, lines };
}

describe('consumers in another process', () => {
  it('SIGKILL mid-job: the jobs come back after the lock expires and nothing is lost', async () => {
    const name = uniqueQueue('crash');
    const lockMs = 1000;
    const producer = createQueue<{ n: number }>({ name, driver: testDriver(prefix), ownsDriver: true });
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) ids.push(await producer.send('work', { n }));

    const { child, lines } = startWorker('hang', REDIS_URL, prefix, name, String(lockMs));
    // The child takes two jobs (its concurrency) and hangs in both handlers.
    const started = await eventually('the child to start two jobs', () => {
      const got = lines.filter((line) => line.startsWith('started '));
      return got.length >= 2 ? got : undefined;
    });
    child.kill('SIGKILL');
    await once(child, 'exit');
    const crashedIds = started.map((line) => line.split(' ')[1]);

    const attempts = new Map<string, number>();
    const consumer = createQueue<{ n: number }>({ name, driver: testDriver(prefix), ownsDriver: true });
    consumer.process(
      async (job) => {
        attempts.set(job.id, job.attempt);
      },
      { concurrency: 2, lockDuration: lockMs },
    );
    try {
      await eventually('every job processed after the crash', () =>
        attempts.size === ids.length ? true : undefined,
      );
      expect([...attempts.keys()].sort()).toEqual([...ids].sort());
      for (const id of crashedIds) expect(attempts.get(id as string)).toBe(2);
      for (const id of ids.filter((id) => !crashedIds.includes(id))) expect(attempts.get(id)).toBe(1);
      expect(await consumer.stats()).toMatchObject({ waiting: 0, delayed: 0, deadLettered: 0 });
    } finally {
      await consumer.close();
      await producer.close();
    }
  });

  it('a schedule runs once per tick across three consumer processes; a tick missed while none ran runs once', async () => {
    const name = uniqueQueue('sched');
    const admin = createQueue<null>({ name, driver: testDriver(prefix), ownsDriver: true });
    const runsOf = (lines: string[]) =>
      lines.filter((line) => line.startsWith('run ')).map((line) => Date.parse(line.split(' ')[2] ?? ''));
    try {
      const workers = [0, 1, 2].map(() => startWorker('schedule', REDIS_URL, prefix, name));
      await eventually('three consumers ready', () =>
        workers.every((w) => w.lines.includes('ready')) ? true : undefined,
      );
      await admin.schedule('tick', { every: 1000, data: null });
      const all = () => workers.flatMap((w) => runsOf(w.lines));
      await eventually('four runs', () => (all().length >= 4 ? true : undefined), 20_000);
      await Promise.all(
        workers.map(async ({ child }) => {
          child.kill('SIGTERM');
          if (child.exitCode === null) await once(child, 'exit');
        }),
      );
      const ticks = all().sort((x, y) => x - y);
      expect(new Set(ticks).size).toBe(ticks.length);
      expect(ticks.every((tick, i) => i === 0 || tick - (ticks[i - 1] ?? 0) === 1000)).toBe(true);

      const stoppedAt = Date.now();
      // Let ticks pass with no consumer: what is under test, not a race.
      await eventually(
        '2.5 s without consumers',
        () => (Date.now() >= stoppedAt + 2500 ? true : undefined),
        10_000,
        100,
      );
      const restartedAt = Date.now();
      const again = startWorker('schedule', REDIS_URL, prefix, name);
      await eventually('a run after the restart', () =>
        runsOf(again.lines).some((tick) => tick > restartedAt) ? true : undefined,
      );
      again.child.kill('SIGTERM');
      const caughtUp = runsOf(again.lines).filter((tick) => tick <= restartedAt);
      // Exactly one catch-up run: the tick that was pending when the consumers stopped.
      expect(caughtUp).toEqual([(ticks.at(-1) ?? 0) + 1000]);
    } finally {
      await admin.close();
    }
  });

  it('close() releases every connection: the process exits on its own', async () => {
    const name = uniqueQueue('exit');
    const { child, lines } = startWorker('clean', REDIS_URL, prefix, name);
    const [code] = await Promise.race([
      once(child, 'exit'),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error(`child still running after close: ${lines.join(' | ')}`)), 20_000),
      ),
    ]);
    expect(lines).toContain('closed true');
    expect(code).toBe(0);
  });

  it('one driver uses two shared connections plus one blocking connection per consumed queue, all closed by close()', async () => {
    const label = `qkt-conn-${uniqueQueue('c')}`;
    const driver = testDriver(prefix, { redis: { connectionName: label } });
    const signal = new AbortController().signal;
    const queues = [uniqueQueue(), uniqueQueue(), uniqueQueue()];
    for (const queue of queues) {
      await driver.send(queue, [{ id: 'x', name: 'n', body: new Uint8Array([1]), headers: {} }]);
      const [delivery] = await driver.receive(queue, { max: 1, waitMs: 1000, lockMs: 5000, signal });
      await delivery?.ack();
    }
    const admin = adminRedis();
    const ours = async () =>
      String(await admin.client('LIST'))
        .split('\n')
        .filter(
          (line) =>
            line.includes(`name=${label}:`) ||
            queues.some((q) => line.includes(`name=${prefix}:${Buffer.from(q).toString('base64')}`)),
        );
    try {
      const open = await ours();
      expect(open.filter((line) => line.includes(`name=${label}:`))).toHaveLength(2);
      expect(open).toHaveLength(2 + queues.length);
      await driver.close();
      await eventually('no connection left', async () => ((await ours()).length === 0 ? true : undefined));
    } finally {
      admin.disconnect();
    }
  });
});
