import { createQueue } from '@queuekit/core';
import { until } from '@queuekit/conformance';
import { afterAll, expect, it } from 'vitest';
import { makeDriver, uniqueName } from './helpers.js';

const admin = makeDriver();
const created: string[] = [];
afterAll(async () => {
  for (const name of created) await admin.deleteQueue(name).catch(() => undefined);
  await admin.close();
});

it('redrive moves each dead letter once, even while a consumer dead-letters the moved jobs again', async () => {
  const name = uniqueName('pingpong');
  created.push(name);
  const queue = createQueue<{ i: number }>({ name, driver: makeDriver(), ownsDriver: true });
  queue.on('error', () => undefined);
  const dead = new Set<string>();
  let deadCount = 0;
  queue.on('dead-lettered', (info) => {
    dead.add(info.id);
    deadCount++;
  });
  try {
    const ids = await queue.sendBatch(
      Array.from({ length: 60 }, (_, i) => ({ name: 'fails', data: { i }, options: { maxAttempts: 1 } })),
    );
    queue.process(
      async () => {
        throw new Error('always fails');
      },
      { concurrency: 10 },
    );
    await until('60 dead letters', 30_000, () => deadCount >= 60, 50);
    const moved = await queue.deadLetters.redrive();
    expect(moved).toBe(60);
    await until('every redriven job dead-lettered again', 30_000, () => deadCount >= 120, 50);
    expect(new Set(ids).size).toBe(60);
  } finally {
    await queue.close({ timeout: 1000 });
  }
});
