import { createQueue, type Queue } from '@queuekit/core';
import { until } from '@queuekit/conformance';
import { afterEach, expect, it } from 'vitest';
import { makeDriver, uniqueName } from './helpers.js';

const opened: { queue: Queue<unknown>; name: string }[] = [];

afterEach(async () => {
  for (const { queue, name } of opened.splice(0)) {
    await queue.close({ timeout: 1000 });
    const admin = makeDriver();
    await admin.deleteQueue(name).finally(() => admin.close());
  }
});

function open<T>(name: string): Queue<T> {
  const queue = createQueue<T>({ name, driver: makeDriver(), ownsDriver: true });
  queue.on('error', () => undefined);
  opened.push({ queue: queue as Queue<unknown>, name });
  return queue;
}

it('ordering keys: per-key order and one-at-a-time, keys in parallel, and a retry keeps the order', async () => {
  const name = uniqueName('qk-order');
  const queue = open<{ key: string; seq: number }>(name);
  const keys = ['a', 'b', 'c'];
  const perKey = 12;
  for (let seq = 0; seq < perKey; seq++) {
    await queue.sendBatch(
      keys.map((key) => ({
        name: 'o',
        data: { key, seq },
        options: { orderingKey: key, backoff: { type: 'fixed', delay: 100 } },
      })),
    );
  }
  const done: Record<string, number[]> = { a: [], b: [], c: [] };
  const attempts: Record<string, number[]> = { a: [], b: [], c: [] };
  const running = new Set<string>();
  let overlap = false;
  let parallelKeys = 0;
  let failedOnce = false;
  queue.process(
    async (job) => {
      const { key, seq } = job.data;
      if (running.has(key)) overlap = true;
      running.add(key);
      parallelKeys = Math.max(parallelKeys, running.size);
      try {
        await new Promise((resolve) => setTimeout(resolve, 5 + (seq % 3) * 5));
        if (key === 'a' && seq === 4 && !failedOnce) {
          failedOnce = true;
          throw new Error('transient');
        }
        done[key]?.push(seq);
        attempts[key]?.push(job.attempt);
      } finally {
        running.delete(key);
      }
    },
    { concurrency: 6 },
  );
  await until('every ordered job', 90_000, () => keys.every((key) => done[key]?.length === perKey), 50);
  const expected = Array.from({ length: perKey }, (_, i) => i);
  for (const key of keys) expect(done[key]).toEqual(expected);
  expect(overlap).toBe(false);
  expect(parallelKeys).toBeGreaterThan(1);
  expect(failedOnce).toBe(true);
  // The retried job ran as attempt 2; the followers that were handed back with it still count 1.
  expect(attempts.a?.[4]).toBe(2);
  expect(attempts.a?.filter((_attempt, seq) => seq !== 4).every((attempt) => attempt === 1)).toBe(true);
});
