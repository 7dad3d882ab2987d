import { createQueue, type Queue } from '@queuekit/core';
import { until } from '@queuekit/conformance';
import { afterEach, expect, it, vi } from 'vitest';
import { makeDriver, uniqueName } from './helpers.js';

const MINUTE = 60_000;
const opened: { queue: Queue<unknown>; name: string }[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const { queue, name } of opened.splice(0)) {
    await queue.close({ timeout: 1000 });
    const admin = makeDriver();
    await admin.deleteQueue(name).finally(() => admin.close());
  }
});

function open<T>(name: string, maxDelayHop?: number): Queue<T> {
  const queue = createQueue<T>({
    name,
    driver: makeDriver(),
    ownsDriver: true,
    ...(maxDelayHop ? { maxDelayHop } : {}),
  });
  queue.on('error', () => undefined);
  opened.push({ queue: queue as Queue<unknown>, name });
  return queue;
}

it('a 30 s delay is honoured by the driver itself: never early, attempt 1, no hop through the core', async () => {
  const name = uniqueName('qk-delay30');
  const queue = open<{ n: number }>(name);
  let coreParks = 0;
  queue.on('delayed', () => coreParks++);
  const ran = new Promise<{ at: number; attempt: number }>((resolve) =>
    queue.process(async (job) => resolve({ at: Date.now(), attempt: job.attempt }), { lockDuration: 10_000 }),
  );
  const sentAt = Date.now();
  await queue.send('later', { n: 1 }, { delay: 30_000 });
  const { at, attempt } = await ran;
  expect(at - sentAt).toBeGreaterThanOrEqual(30_000);
  expect(at - sentAt).toBeLessThan(30_000 + 20_000);
  expect(attempt).toBe(1);
  // The core's own not-before guard never had to put it back: the driver did not hand it over early.
  expect(coreParks).toBe(0);
});

it('a 20-minute delay hops (4 s hops here) and is delivered at its time, not before (test clock for the wait)', async () => {
  const name = uniqueName('qk-delay20m');
  const queue = open<null>(name, 4_000);
  const remaining: number[] = [];
  queue.on('delayed', (info) => remaining.push(info.remainingMs));
  let ran: { at: number; attempt: number } | undefined;
  queue.process(
    async (job) => {
      ran = { at: Date.now(), attempt: job.attempt };
    },
    { lockDuration: 10_000 },
  );
  const sentAt = Date.now();
  const dueAt = sentAt + 20 * MINUTE;
  await queue.send('far', null, { delay: 20 * MINUTE });

  // Real time: the job hops through the queue every ~4 s and is never run.
  await until('two hops', 30_000, () => remaining.length >= 2, 50);
  expect(ran).toBeUndefined();
  expect(remaining.every((ms) => ms > 19 * MINUTE && ms <= 20 * MINUTE)).toBe(true);
  expect(remaining[1]).toBeLessThan(remaining[0] ?? 0);

  // Test clock (Date only; timers and sockets stay real): 30 s before its time, still not run.
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  vi.setSystemTime(dueAt - 30_000);
  const hopsBefore = remaining.length;
  await until('a hop 30 s before the time', 30_000, () => remaining.length > hopsBefore, 50);
  expect(ran).toBeUndefined();
  expect(remaining.at(-1)).toBeLessThanOrEqual(30_000);

  // Past its time: it runs, once, as attempt 1.
  vi.setSystemTime(dueAt + 1_000);
  const done = await until('the job to run', 30_000, () => ran, 50);
  expect(done.at).toBeGreaterThanOrEqual(dueAt);
  expect(done.attempt).toBe(1);
});
