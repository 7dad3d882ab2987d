import { expect, it } from 'vitest';
import { spawnCrashWorker } from '../crash.js';
import { type Harness, until } from '../harness.js';

/** What happened to one job over a sequence of worker lives. */
interface CrashLoop {
  /** Attempt numbers the handler started with, in order, across every worker. */
  readonly attempts: number[];
  /** Lives that ended with the worker killed mid-job. */
  readonly deaths: number;
  /** `completed` or `dead-lettered` (with its reason), as the last worker saw it; undefined if neither. */
  readonly outcome?: { readonly event: 'completed' | 'dead-lettered'; readonly reason?: string };
  /** The worker still running after the outcome, to prove nothing more comes (stopped by `stop`). */
  readonly survivor: { readonly attempts: () => number[]; stop(): Promise<void> };
}

/**
 * Run workers one after another on `queue`, a fresh one after each death, until one reports the job
 * completed or dead-lettered, or `maxLives` workers have run (a crash loop). Each worker kills itself in
 * the handler while the attempt is at most `crashUntilAttempt`. With `crashWorker` in the options the
 * workers are child processes killed with SIGKILL; without, in-process workers abandon the delivery
 * unsettled and drop their connection (a driver whose broker lives in this process cannot cross processes).
 */
async function crashLoop(
  h: Harness,
  queue: string,
  crashUntilAttempt: number,
  maxLives: number,
): Promise<CrashLoop> {
  const attempts: number[] = [];
  let deaths = 0;
  const perLife = h.timeout(30_000) + 3 * h.lockMs;
  const worker = h.options.crashWorker;
  for (let life = 1; life <= maxLives; life++) {
    if (worker) {
      const child = spawnCrashWorker(worker, { queue, lockMs: h.lockMs, crashUntilAttempt });
      const seen = await child.lines
        .next('started, completed or dead-lettered', perLife, (line) =>
          line.event === 'started' || line.event === 'dead-lettered' ? line : undefined,
        )
        .catch(async (error: unknown) => {
          await child.kill();
          throw error;
        });
      if (seen.event === 'started') attempts.push(seen.attempt ?? Number.NaN);
      if (seen.event === 'dead-lettered') {
        return {
          attempts,
          deaths,
          outcome: { event: 'dead-lettered', ...(seen.reason ? { reason: seen.reason } : {}) },
          survivor: childSurvivor(child),
        };
      }
      if ((seen.attempt ?? 0) <= crashUntilAttempt) {
        expect(await child.exited).toBe('SIGKILL');
        deaths++;
        continue;
      }
      await child.lines
        .next('completed', perLife, (line) => (line.event === 'completed' ? line : undefined))
        .catch(async (error: unknown) => {
          await child.kill();
          throw error;
        });
      return { attempts, deaths, outcome: { event: 'completed' }, survivor: childSurvivor(child) };
    }
    // In-process: the worker takes the job and "dies" holding it.
    const consumer = await h.queue<unknown>(queue, {}, { failures: false });
    let died = false;
    let outcome: CrashLoop['outcome'];
    const lifeAttempts: number[] = [];
    consumer.on('dead-lettered', (info) => {
      outcome = { event: 'dead-lettered', reason: info.reason };
    });
    consumer.on('completed', () => {
      outcome = { event: 'completed' };
    });
    consumer.process(
      (job) => {
        attempts.push(job.attempt);
        lifeAttempts.push(job.attempt);
        if (died || job.attempt > crashUntilAttempt) return 'survived';
        died = true;
        return new Promise<never>(() => {
          // Never settles: this worker is dead from here on.
        });
      },
      { concurrency: 1, lockDuration: h.lockMs },
    );
    await until('the worker to take the job, or an outcome', perLife, () => died || outcome);
    if (outcome) {
      const at = lifeAttempts.length;
      return {
        attempts,
        deaths,
        outcome,
        survivor: {
          attempts: () => lifeAttempts.slice(at),
          stop: () => consumer.close({ timeout: 0 }),
        },
      };
    }
    await consumer.close({ timeout: 0 });
    deaths++;
  }
  return { attempts, deaths, survivor: { attempts: () => [], stop: async () => undefined } };
}

function childSurvivor(child: ReturnType<typeof spawnCrashWorker>) {
  const from = child.lines.lines.length;
  return {
    attempts: () =>
      child.lines.lines
        .slice(from)
        .filter((line) => line.event === 'started')
        .map((line) => line.attempt ?? Number.NaN),
    stop: async () => {
      await child.kill();
    },
  };
}

/** Crash loops: a job that kills its worker must end in the dead letters, not run forever. */
export function crashCases(h: Harness): void {
  it('a job that kills its worker process every time runs as attempts 1..maxAttempts, then is dead-lettered once as `max-attempts`', async () => {
    const name = h.queueName();
    const producer = await h.queue<{ n: number }>(name);
    const id = await producer.send('crash', { n: 1 }, { maxAttempts: 2 });
    const loop = await crashLoop(h, name, Number.POSITIVE_INFINITY, 5);
    try {
      expect(loop.attempts).toEqual([1, 2]);
      expect(loop.deaths).toBe(2);
      expect(loop.outcome).toEqual({ event: 'dead-lettered', reason: 'max-attempts' });
      const listed = await until('the dead letter listed', h.timeout(15_000), async () => {
        const records = await producer.deadLetters.list();
        return records.length > 0 ? records : undefined;
      });
      expect(listed.map((r) => ({ id: r.id, reason: r.reason }))).toEqual([{ id, reason: 'max-attempts' }]);
      // The last worker keeps consuming: no copy of the job may come back, in the queue or the dead letters.
      const quietUntil = Date.now() + 2 * h.lockMs + h.timeout(1000);
      await until('two locks to pass', quietUntil - Date.now() + 1000, () => Date.now() >= quietUntil, 50);
      expect(loop.survivor.attempts()).toEqual([]);
      expect((await producer.deadLetters.list()).map((r) => r.id)).toEqual([id]);
    } finally {
      await loop.survivor.stop();
    }
  });

  it('a job that kills its worker twice, then succeeds, runs as attempts 1, 2, 3 and completes once', async () => {
    const name = h.queueName();
    const producer = await h.queue<{ n: number }>(name);
    await producer.send('crash', { n: 2 }, { maxAttempts: 3 });
    const loop = await crashLoop(h, name, 2, 5);
    try {
      expect(loop.attempts).toEqual([1, 2, 3]);
      expect(loop.deaths).toBe(2);
      expect(loop.outcome).toEqual({ event: 'completed' });
      const quietUntil = Date.now() + 2 * h.lockMs + h.timeout(1000);
      await until('two locks to pass', quietUntil - Date.now() + 1000, () => Date.now() >= quietUntil, 50);
      expect(loop.survivor.attempts()).toEqual([]);
      expect(await producer.deadLetters.list()).toEqual([]);
    } finally {
      await loop.survivor.stop();
    }
  });
}
