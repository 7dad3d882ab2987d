import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueue, type HandlerContext, type Queue, QueuekitError } from '../src/index.js';
import { until } from './helpers.js';

const queues: Queue<unknown>[] = [];
afterEach(async () => {
  for (const queue of queues.splice(0)) await queue.close();
});

function queueFor(name: string): Queue<{ n: number }> {
  const queue = createQueue<{ n: number }>({ name: `${name}-${Date.now()}`, results: false });
  queues.push(queue as Queue<unknown>);
  return queue;
}

describe('the handler context', () => {
  it('is a class instance: a spread copies the calls, not the signal getter, and shows no internals', async () => {
    const queue = queueFor('ctx-spread');
    let copy: Partial<HandlerContext> | undefined;
    let passed: HandlerContext | undefined;
    let original: HandlerContext | undefined;
    let shown = '';
    queue.process(
      async (_job, ctx) => {
        original = ctx;
        copy = { ...ctx };
        // What the core README tells a handler that passes on a copy.
        passed = { ...ctx, signal: ctx.signal };
        shown = inspect(ctx, { depth: 4 });
        // The passed-on signal is the job's own: it aborts when the job's timeout elapses.
        await new Promise((resolve) => passed?.signal.addEventListener('abort', resolve, { once: true }));
      },
      { timeout: 50 },
    );
    await queue.send('spread', { n: 1 }, { maxAttempts: 1 });
    await until(() => passed?.signal.aborted, 'the passed-on signal to abort');
    expect(passed?.signal).toBe(original?.signal);
    expect(QueuekitError.is(passed?.signal.reason, 'ERR_TIMEOUT')).toBe(true);
    expect(Object.keys(copy ?? {}).sort()).toEqual(['enqueue', 'extendLock', 'log', 'progress']);
    expect(copy?.signal).toBeUndefined();
    expect(original?.signal).toBeInstanceOf(AbortSignal);
    expect(shown).not.toMatch(/scope|held|delivery|driver/);
  });

  it('works destructured: a follow-up enqueued through a detached call is sent', async () => {
    const queue = queueFor('ctx-destructured');
    const seen: number[] = [];
    queue.process(async (job, { enqueue, signal }) => {
      expect(signal.aborted).toBe(false);
      seen.push(job.data.n);
      if (job.data.n === 1) enqueue('next', { n: 2 });
    });
    await queue.send('first', { n: 1 });
    await until(() => seen.length === 2, 'the follow-up');
    expect(seen).toEqual([1, 2]);
  });
});
