import { describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue, type Driver, MemoryBroker, RetryAfterError } from '../src/index.js';
import { until } from './helpers.js';

/** A memory driver whose deliveries cannot be released in place (the core must re-send or hold). */
function withoutRelease(inner: Driver): Driver {
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (key !== 'receive') return Reflect.get(target, key, receiver);
      return async (...args: Parameters<Driver['receive']>) =>
        (await target.receive(...args)).map((d) => Object.assign(d, { release: undefined }));
    },
  });
}

async function keyedRun(
  driver: Driver,
  name: string,
  fail: (seq: number, attempt: number) => Error | undefined,
) {
  const queue = createQueue<{ seq: number }>({ name, driver, ownsDriver: true });
  const done: number[] = [];
  const attempts: string[] = [];
  for (let seq = 0; seq < 6; seq++)
    await queue.send('keyed', { seq }, { orderingKey: 'k', backoff: { type: 'fixed', delay: 50 } });
  queue.process(
    async (job) => {
      attempts.push(`${job.data.seq}@${job.attempt}`);
      const error = fail(job.data.seq, job.attempt);
      if (error) throw error;
      done.push(job.data.seq);
    },
    { concurrency: 4, lockDuration: 200 },
  );
  await until(() => done.length === 6, 'every keyed job');
  await queue.close();
  return { done, attempts };
}

describe('a retry inside an ordering key', () => {
  it('a RetryAfterError keeps its place: later jobs of the key wait, and no attempt is spent', async () => {
    let retried = false;
    const got = await keyedRun(
      createMemoryDriver({ broker: new MemoryBroker() }),
      'keyed-retry-after',
      (seq) => {
        if (seq !== 2 || retried) return undefined;
        retried = true;
        return new RetryAfterError(150);
      },
    );
    expect(got.done).toEqual([0, 1, 2, 3, 4, 5]);
    expect(got.attempts.filter((a) => a.startsWith('2@'))).toEqual(['2@1', '2@1']);
  });

  it('a backoff retry keeps its place on a driver without in-place release', async () => {
    const driver = withoutRelease(createMemoryDriver({ broker: new MemoryBroker() }));
    const got = await keyedRun(driver, 'keyed-backoff', (seq, attempt) =>
      seq === 3 && attempt === 1 ? new Error('transient') : undefined,
    );
    expect(got.done).toEqual([0, 1, 2, 3, 4, 5]);
    expect(got.attempts.filter((a) => a.startsWith('3@'))).toEqual(['3@1', '3@2']);
  });
});
