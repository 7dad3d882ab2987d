import { describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue, MemoryBroker, QueueClosedError } from '../src/index.js';
import { hangUntilAborted, until } from './helpers.js';

/** Start a worker on `broker`, close it while its job runs, then let a second worker take the job. */
async function closeMidJob(handler: (signal: AbortSignal, release: Promise<void>) => Promise<unknown>) {
  const broker = new MemoryBroker();
  const driver = createMemoryDriver({ broker });
  // The driver outlives the queue (not owned): a late ack would succeed, so nothing hides one.
  const first = createQueue<null>({ name: 'closing', driver });
  const errors: Error[] = [];
  const reasons: unknown[] = [];
  let started = false;
  let letGo: () => void = () => undefined;
  const release = new Promise<void>((resolve) => {
    letGo = resolve;
  });
  first.on('error', (error) => errors.push(error));
  first.process(
    async (_job, ctx) => {
      started = true;
      ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason));
      return handler(ctx.signal, release);
    },
    { lockDuration: 150 },
  );
  await first.send('slow', null);
  await until(() => started, 'the job to start');
  await first.close({ timeout: 20 });
  letGo();
  const second = createQueue<null>({
    name: 'closing',
    driver: createMemoryDriver({ broker }),
    ownsDriver: true,
  });
  const attempts: number[] = [];
  second.process(async (job) => {
    attempts.push(job.attempt);
  });
  await until(() => attempts.length > 0, 'the job to come back');
  await second.close();
  await driver.close();
  return { reasons, attempts, errors };
}

describe('close({ timeout }) shorter than a running job', () => {
  it('aborts the signal with QueueClosedError and the job comes back as the next attempt', async () => {
    const got = await closeMidJob((signal) => hangUntilAborted(signal));
    expect(got.reasons).toHaveLength(1);
    expect(got.reasons[0]).toBeInstanceOf(QueueClosedError);
    expect(got.attempts).toEqual([2]);
    expect(got.errors).toEqual([]);
  });

  it('a handler that ignores the abort and finishes later is not acknowledged by the closed consumer', async () => {
    const got = await closeMidJob(async (_signal, release) => {
      await release;
      return 'done late';
    });
    expect(got.reasons[0]).toBeInstanceOf(QueueClosedError);
    expect(got.attempts).toEqual([2]);
    expect(got.errors).toEqual([]);
  });
});
