import { expect, it } from 'vitest';
import { deferred, type Harness } from '../harness.js';

/** Shutdown with a job still running. */
export function shutdownCases(h: Harness): void {
  it('close({ timeout }) shorter than a running job aborts its signal, and the job comes back at its next attempt', async () => {
    const name = h.queueName();
    const first = await h.queue<{ n: number }>(name);
    const started = deferred();
    const aborted = deferred<string>();
    first.process(
      async (_job, ctx) => {
        started.resolve();
        await new Promise<void>((resolve) => {
          ctx.signal.addEventListener('abort', () => {
            aborted.resolve(String((ctx.signal.reason as { code?: string } | undefined)?.code));
            resolve();
          });
        });
        throw ctx.signal.reason; // what a handler whose fetch was aborted does
      },
      { lockDuration: h.lockMs },
    );
    const id = await first.send('long', { n: 1 });
    await started.promise;
    const closedAt = Date.now();
    await first.close({ timeout: 200 });
    expect(await aborted.promise).toBe('ERR_QUEUE_CLOSED');
    expect(Date.now() - closedAt).toBeLessThan(h.timeout(10_000));

    const next = await h.queue<{ n: number }>(name);
    const again = deferred<{ id: string; attempt: number }>();
    next.process(async (job) => again.resolve({ id: job.id, attempt: job.attempt }), {
      lockDuration: h.lockMs,
    });
    expect(await again.promise).toEqual({ id, attempt: 2 });
  });
}
