import { QueuekitError, RetryAfterError } from '@queuekit/core';
import { expect, it } from 'vitest';
import { deferred, type Harness } from '../harness.js';

/** Delays: never early, `runAt`, and delays longer than one native delay (hops). */
export function delayCases(h: Harness): void {
  it('a delayed job is not delivered before its delay', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ at: number }>(name);
    const ran = deferred<number>();
    queue.process(async () => ran.resolve(Date.now()));
    const sentAt = Date.now();
    await queue.send('later', { at: sentAt }, { delay: 1500 });
    const at = await ran.promise;
    expect(at - sentAt).toBeGreaterThanOrEqual(1500);
    expect(at - sentAt).toBeLessThan(1500 + h.timeout(15_000));
  });

  it('a job with runAt is not delivered before that time', async () => {
    const name = h.queueName();
    const queue = await h.queue<null>(name);
    const ran = deferred<number>();
    queue.process(async () => ran.resolve(Date.now()));
    const runAt = new Date(Date.now() + 1500);
    await queue.send('scheduled', null, { runAt });
    const at = await ran.promise;
    expect(at).toBeGreaterThanOrEqual(runAt.getTime());
    expect(at - runAt.getTime()).toBeLessThan(h.timeout(15_000));
  });

  it('a delay longer than one native delay hops and is still honoured', async () => {
    const name = h.queueName();
    const hop = 1000;
    const queue = await h.queue<null>(name, { maxDelayHop: hop });
    let hops = 0;
    queue.on('delayed', () => hops++);
    const ran = deferred<{ at: number; attempt: number }>();
    queue.process(async (job) => ran.resolve({ at: Date.now(), attempt: job.attempt }));
    const sentAt = Date.now();
    await queue.send('far', null, { delay: 2600 });
    const { at, attempt } = await ran.promise;
    expect(at - sentAt).toBeGreaterThanOrEqual(2600);
    expect(hops).toBeGreaterThanOrEqual(1);
    expect(attempt).toBe(1);
  });

  // Lateness bound of one delivery: the broker's own delay granularity plus a poll and a lock.
  const late = () => h.timeout(5000) + h.lockMs;

  it('the driver applies a delay within its native maximum itself: no core parks, not early, not late', async () => {
    const name = h.queueName();
    const queue = await h.queue<null>(name);
    const delay = Math.min(1500, h.capabilities.maxDelayMs);
    let parks = 0;
    queue.on('delayed', () => parks++);
    const ran = deferred<number>();
    queue.process(async () => ran.resolve(Date.now()));
    const sentAt = Date.now();
    await queue.send('native', null, { delay });
    const at = await ran.promise;
    expect(at - sentAt).toBeGreaterThanOrEqual(delay);
    expect(at - sentAt).toBeLessThan(delay + late());
    expect(parks).toBe(0);
  });

  it('a delay of 2.9 hops takes exactly 2 core parks (maxDelayHop), and is neither early nor late', async () => {
    const name = h.queueName();
    const hop = Math.min(1000, h.capabilities.maxDelayMs);
    const queue = await h.queue<null>(name, { maxDelayHop: hop });
    const parks: number[] = [];
    queue.on('delayed', (info) => parks.push(info.remainingMs));
    const ran = deferred<{ at: number; attempt: number }>();
    queue.process(async (job) => ran.resolve({ at: Date.now(), attempt: job.attempt }));
    const delay = Math.round(2.9 * hop);
    const sentAt = Date.now();
    await queue.send('hops', null, { delay });
    const { at, attempt } = await ran.promise;
    expect(at - sentAt).toBeGreaterThanOrEqual(delay);
    expect(at - sentAt).toBeLessThan(delay + 3 * late());
    expect(attempt).toBe(1);
    // Each hop is one full hop: parks at ~1.9 and ~0.9 hops left, none for a few ms of rounding.
    expect(parks).toHaveLength(2);
    expect(parks.every((remaining) => remaining > 0 && remaining <= 2 * hop)).toBe(true);
  });

  it('a RetryAfterError comes back after its delay, within a bound', async () => {
    const name = h.queueName();
    const queue = await h.queue<null>(name, {}, { failures: (e) => QueuekitError.is(e, 'ERR_RETRY_AFTER') });
    const runs: number[] = [];
    const done = deferred();
    queue.process(async () => {
      runs.push(Date.now());
      if (runs.length === 1) throw new RetryAfterError(1200);
      done.resolve();
    });
    await queue.send('later-again', null);
    await done.promise;
    const waited = (runs[1] ?? 0) - (runs[0] ?? 0);
    expect(waited).toBeGreaterThanOrEqual(1200);
    expect(waited).toBeLessThan(1200 + late());
  });
}
