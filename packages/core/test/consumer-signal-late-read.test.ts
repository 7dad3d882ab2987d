import { describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue, JobTimeoutError, MemoryBroker } from '../src/index.js';
import { until } from './helpers.js';

describe('ctx.signal made on first read', () => {
  it('a handler that reads ctx.signal only after its timeout elapsed gets it aborted with the JobTimeoutError', async () => {
    const queue = createQueue({
      name: 'late-signal',
      driver: createMemoryDriver({ broker: new MemoryBroker() }),
      ownsDriver: true,
    });
    const seen: { aborted: boolean; reason: unknown }[] = [];
    let release: () => void = () => undefined;
    const readLater = new Promise<void>((resolve) => {
      release = resolve;
    });
    queue.on('failed', () => release());
    queue.process(
      async (_job, ctx) => {
        await readLater;
        seen.push({ aborted: ctx.signal.aborted, reason: ctx.signal.reason });
      },
      { timeout: 50, concurrency: 1 },
    );
    await queue.send('slow', null, { maxAttempts: 1 });
    await until(() => seen.length === 1, 'the handler read its signal');
    expect(seen[0]?.aborted).toBe(true);
    expect(seen[0]?.reason).toBeInstanceOf(JobTimeoutError);
    await queue.close({ timeout: 50 });
  });

  it('a handler reading ctx.signal while it runs gets one live signal', async () => {
    const queue = createQueue({
      name: 'live-signal',
      driver: createMemoryDriver({ broker: new MemoryBroker() }),
      ownsDriver: true,
    });
    const seen: boolean[] = [];
    queue.process(async (_job, ctx) => {
      const first = ctx.signal;
      const second = ctx.signal;
      seen.push(first === second, second.aborted);
    });
    await queue.send('quick', null);
    await until(() => seen.length === 2, 'the handler ran');
    expect(seen).toEqual([true, false]);
    await queue.close();
  });
});
