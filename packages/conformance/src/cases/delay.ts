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
}
