import { expect, it } from 'vitest';
import { type Harness, until } from '../harness.js';

/** A mixed workload: nothing lost, and the dead letters hold exactly the jobs that always fail. */
export function loadCases(h: Harness): void {
  it('a mixed load (200 jobs, 2% always failing, 10% failing once, concurrency 8) loses nothing and dead-letters exactly the failing jobs, each once', async () => {
    const name = h.queueName();
    const producer = await h.queue<{ i: number }>(name);
    const total = 200;
    // Deterministic mix: every 50th job always fails (4), every 10th other one fails once (19 or 20).
    const alwaysFails = (i: number) => i % 50 === 7;
    const failsOnce = (i: number) => !alwaysFails(i) && i % 10 === 3;
    const completed = new Map<number, number>();
    const failedOnce = new Set<number>();
    const attemptsOfPoison = new Map<number, number[]>();
    for (let w = 0; w < 2; w++) {
      const worker = await h.queue<{ i: number }>(name, {}, { failures: true });
      worker.process(
        async (job) => {
          const { i } = job.data;
          if (alwaysFails(i)) {
            attemptsOfPoison.set(i, [...(attemptsOfPoison.get(i) ?? []), job.attempt]);
            throw new Error(`poison ${i}`);
          }
          if (failsOnce(i) && !failedOnce.has(i)) {
            failedOnce.add(i);
            throw new Error(`transient ${i}`);
          }
          completed.set(i, (completed.get(i) ?? 0) + 1);
        },
        { concurrency: 8, lockDuration: h.lockMs },
      );
    }
    const ids = await producer.sendBatch(
      Array.from({ length: total }, (_, i) => ({
        name: 'mixed',
        data: { i },
        options: { maxAttempts: 3, backoff: { type: 'fixed' as const, delay: 100 } },
      })),
    );
    const poison = ids.filter((_, i) => alwaysFails(i)).sort();
    const healthy = Array.from({ length: total }, (_, i) => i).filter((i) => !alwaysFails(i));
    await until(
      'every healthy job completed',
      h.timeout(120_000),
      () => healthy.every((i) => completed.has(i)),
      50,
    );
    const listed = await until('the failing jobs dead-lettered', h.timeout(60_000), async () => {
      const records = await producer.deadLetters.list({ limit: 100 });
      return records.length >= poison.length ? records : undefined;
    });
    // Settle: a wrongly dead-lettered or duplicated job would show up within two locks.
    const end = Date.now() + 2 * h.lockMs + h.timeout(1000);
    await until('two locks to pass', 2 * h.lockMs + h.timeout(6000), () => Date.now() >= end, 50);
    const final = await producer.deadLetters.list({ limit: 100 });
    expect(listed.length).toBe(poison.length);
    expect(final.map((r) => r.id).sort()).toEqual(poison);
    expect(final.every((r) => r.reason === 'max-attempts' && r.attempts === 3)).toBe(true);
    expect([...attemptsOfPoison.values()].every((a) => a.join() === '1,2,3')).toBe(true);
    expect(completed.size).toBe(healthy.length);
    expect([...completed.entries()].filter(([, count]) => count !== 1)).toEqual([]);
  });
}
