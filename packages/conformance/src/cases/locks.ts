import { createQueue, type Delivery, type Driver } from '@queuekit/core';
import { expect, it } from 'vitest';
import { faultyDriver, overrideDelivery } from '../faults.js';
import { deferred, type Harness, until } from '../harness.js';

/** The `code` of a queuekit error (compared by code: it survives two installed copies of the core). */
export const codeOf = (error: unknown): unknown => (error as { code?: unknown } | null | undefined)?.code;

/** Wait `ms` on purpose: the case proves that nothing happens meanwhile. */
export function quietFor(ms: number): Promise<void> {
  const end = Date.now() + ms;
  return until(`${ms} ms to pass`, ms + 5000, () => Date.now() >= end, 50).then(() => undefined);
}

/** Lost locks and settled jobs: exactly one more delivery after a loss, none after a completion. */
export function lockCases(h: Harness): void {
  /**
   * Worker A takes the job and loses its lock; worker B then gets it. How the lock is lost depends on how
   * the broker redelivers: `timeout` brokers see A's renewals vanish (a network that drops them) until the
   * lock runs out and B holds the job, then A's next renewal reaches the broker; `connection` brokers see A's
   * connection drop. A then either returns (its late ack must fail) or throws on the aborted signal.
   */
  async function loseLock(handlerOnAbort: 'return' | 'throw') {
    const name = h.queueName();
    const timeoutMode = h.capabilities.redelivery === 'timeout';
    const raw = await h.driver();
    let renewalsLost = true;
    const ackErrors: unknown[] = [];
    const wrap = (delivery: Delivery): Delivery =>
      overrideDelivery(delivery, {
        ack: (result?: unknown) =>
          delivery.ack(result).catch((error: unknown) => {
            ackErrors.push(error);
            throw error;
          }),
        ...(delivery.extendLock
          ? {
              extendLock: async (ms: number) => {
                if (renewalsLost) return; // sent, never arrived
                return delivery.extendLock?.(ms);
              },
            }
          : {}),
      });
    const driverA: Driver = faultyDriver(raw, { mapDelivery: wrap });
    const a = h.adopt(createQueue<{ n: number }>({ name, driver: driverA, store: h.store }), {
      failures: handlerOnAbort === 'throw',
      errors: (e) => codeOf(e) === 'ERR_LOCK_LOST' || !timeoutMode,
    });
    const runs: { who: string; attempt: number }[] = [];
    const aStarted = deferred();
    const aDone = deferred<{ aborted: boolean; reason: unknown }>();
    a.process(
      async (job, ctx) => {
        runs.push({ who: 'a', attempt: job.attempt });
        aStarted.resolve();
        const aborted = await Promise.race([
          new Promise<boolean>((resolve) => ctx.signal.addEventListener('abort', () => resolve(true))),
          new Promise<boolean>((resolve) =>
            setTimeout(() => resolve(false), h.timeout(30_000) + 4 * h.lockMs),
          ),
        ]);
        aDone.resolve({ aborted, reason: ctx.signal.reason });
        if (handlerOnAbort === 'throw') throw ctx.signal.reason ?? new Error('not aborted');
        return 'late';
      },
      { lockDuration: h.lockMs },
    );
    const id = await a.send('held', { n: 1 });
    await aStarted.promise;
    const b = await h.queue<{ n: number }>(name);
    const bGot = deferred();
    b.process(
      async (job) => {
        runs.push({ who: 'b', attempt: job.attempt });
        bGot.resolve();
      },
      { lockDuration: h.lockMs },
    );
    if (!timeoutMode) await raw.close(); // the connection drops: the broker requeues A's delivery
    await bGot.promise;
    renewalsLost = false; // A's next renewal arrives, after B took the job
    const { aborted, reason } = await aDone.promise;
    return { id, runs, aborted, reason, ackErrors, timeoutMode, a, b };
  }

  it('a lock lost mid-handler aborts ctx.signal, the late ack fails with LockLostError, and the job runs exactly once more', async () => {
    const { runs, aborted, reason, ackErrors, timeoutMode } = await loseLock('return');
    if (h.capabilities.lockRenewal && timeoutMode) {
      expect(aborted).toBe(true);
      expect(codeOf(reason)).toBe('ERR_LOCK_LOST');
    }
    await until('A to try its ack', h.timeout(10_000), () => ackErrors.length > 0 || undefined).catch(
      () => undefined,
    );
    await quietFor(2 * h.lockMs + h.timeout(1000));
    expect(ackErrors.map(codeOf)).toEqual(['ERR_LOCK_LOST']);
    expect(runs).toEqual([
      { who: 'a', attempt: 1 },
      { who: 'b', attempt: 2 },
    ]);
  });

  it('a handler that throws after losing its lock leaves no extra copy: the job runs exactly once more', async () => {
    const { runs, aborted } = await loseLock('throw');
    if (h.capabilities.lockRenewal && h.capabilities.redelivery === 'timeout') expect(aborted).toBe(true);
    await quietFor(3 * h.lockMs + h.timeout(1000));
    expect(runs).toEqual([
      { who: 'a', attempt: 1 },
      { who: 'b', attempt: 2 },
    ]);
  });

  it('completed jobs stay completed: no second delivery after twice the lock, and counts go back to 0', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ i: number }>(name);
    const seen = new Map<string, number>();
    queue.process(
      async (job) => {
        seen.set(job.id, (seen.get(job.id) ?? 0) + 1);
      },
      { concurrency: 4, lockDuration: h.lockMs },
    );
    const ids = await queue.sendBatch(Array.from({ length: 20 }, (_, i) => ({ name: 'done', data: { i } })));
    await until('20 completions', h.timeout(30_000), () => ids.every((id) => seen.has(id)));
    await quietFor(2 * h.lockMs + h.timeout(1000));
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    expect(seen.size).toBe(20);
    const stats = await until('counts back to 0', h.timeout(15_000), async () => {
      const s = await queue.stats();
      return (s.waiting ?? 0) === 0 && (s.active ?? 0) === 0 && (s.delayed ?? 0) === 0 ? s : undefined;
    });
    expect(stats.deadLettered ?? 0).toBe(0);
  });
}
