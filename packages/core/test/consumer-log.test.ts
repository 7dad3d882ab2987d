import { describe, expect, it } from 'vitest';
import {
  createMemoryDriver,
  createQueue,
  type Delivery,
  type Driver,
  MAX_ERROR_TEXT,
  MemoryBroker,
  QueuekitError,
} from '../src/index.js';
import { until } from './helpers.js';
import { wrapDriver } from './wrap.js';

/** A memory driver whose deliveries keep a log (as BullMQ's do), or not. */
function logging(withLog: boolean) {
  const inner = createMemoryDriver({ broker: new MemoryBroker() });
  const lines: string[] = [];
  const driver: Driver = wrapDriver(inner, {
    receive: async (queue: string, options: Parameters<Driver['receive']>[1]) =>
      (await inner.receive(queue, options)).map(
        (delivery): Delivery =>
          Object.assign(delivery, {
            log: withLog
              ? async (line: string) => {
                  lines.push(line);
                }
              : undefined,
          }),
      ),
  });
  return { driver, lines };
}

describe('ctx.log', () => {
  it("appends to the job's log where the driver keeps one, lines capped", async () => {
    const { driver, lines } = logging(true);
    const queue = createQueue<null>({ name: 'logged', driver, ownsDriver: true });
    const done: string[] = [];
    await queue.send('x', null);
    queue.process(async (_job, ctx) => {
      await ctx.log('step 1 of 2');
      await ctx.log('x'.repeat(MAX_ERROR_TEXT * 2));
      const refused = await ctx.log(42 as unknown as string).catch((e: unknown) => e);
      done.push(QueuekitError.is(refused, 'ERR_CONFIG') ? 'refused' : 'accepted');
    });
    await until(() => done.length === 1, 'the job');
    await queue.close();
    expect(done).toEqual(['refused']);
    expect(lines[0]).toBe('step 1 of 2');
    expect(lines[1]?.length).toBeLessThanOrEqual(MAX_ERROR_TEXT);
    expect(lines).toHaveLength(2);
  });

  it('resolves where the driver keeps no log', async () => {
    const { driver } = logging(false);
    const queue = createQueue<null>({ name: 'unlogged', driver, ownsDriver: true });
    const done: string[] = [];
    await queue.send('x', null);
    queue.process(async (_job, ctx) => {
      await ctx.log('nobody keeps this');
      done.push('ok');
    });
    await until(() => done.length === 1, 'the job');
    await queue.close();
    expect(done).toEqual(['ok']);
  });
});
