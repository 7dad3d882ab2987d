import { createQueue } from '@queuekit/core';
import { afterEach, expect, it, vi } from 'vitest';
import { makeDriver, uniqueName } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

it('a 20-minute delay hops through the core with a 1 s native maximum (test clock jumps 4 min per hop)', async () => {
  const name = uniqueName('delay20');
  const driver = makeDriver({ maxDelayMs: 1000 });
  expect(driver.capabilities.maxDelayMs).toBe(1000);
  const queue = createQueue<{ due: number }>({ name, driver, ownsDriver: true });
  // Test-only clock: wall time plus an offset that jumps whenever the job is parked for another hop.
  const realNow = Date.now.bind(Date);
  let offset = 0;
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() + offset);
  try {
    const remaining: number[] = [];
    queue.on('delayed', (info) => {
      remaining.push(info.remainingMs);
      offset += 4 * 60_000;
    });
    const sentAt = Date.now();
    const due = sentAt + 20 * 60_000;
    await queue.send('far', { due }, { delay: 20 * 60_000 });
    const ran = new Promise<{ at: number; attempt: number }>((resolve) => {
      queue.process(async (job) => resolve({ at: Date.now(), attempt: job.attempt }));
    });
    const { at, attempt } = await ran;
    expect(at).toBeGreaterThanOrEqual(due);
    expect(attempt).toBe(1);
    expect(remaining.length).toBeGreaterThanOrEqual(5);
    for (let i = 1; i < remaining.length; i++) expect(remaining[i]).toBeLessThan(remaining[i - 1] as number);
  } finally {
    await queue.close({ timeout: 1000 });
    const admin = makeDriver();
    await admin.deleteQueue(name);
    await admin.close();
  }
});
