import { describe, expect, it } from 'vitest';
import {
  createMemoryDriver,
  createQueue,
  MemoryBroker,
  MemoryStore,
  type OutgoingMessage,
} from '../src/index.js';
import type { Store } from '../src/store/types.js';
import { until } from './helpers.js';
import { wrapDriver } from './wrap.js';

/** `store` that counts `keys()` calls (the scheduler's loop lists schedules once per pass). */
function countingKeys(store: Store): { store: Store; passes: () => number } {
  let passes = 0;
  const counted = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (property === 'keys')
        return (prefix: string) => {
          passes++;
          return value.call(target, prefix);
        };
      return value.bind(target);
    },
  });
  return { store: counted, passes: () => passes };
}

describe('store schedules', () => {
  it('a schedule removed while its tick is being sent stays removed', async () => {
    const inner = createMemoryDriver({ broker: new MemoryBroker() });
    const { store, passes } = countingKeys(new MemoryStore());
    let removed: Promise<boolean> | undefined;
    const driver = wrapDriver(inner, {
      send: async (queue: string, messages: readonly OutgoingMessage[]) => {
        // The schedule is removed after the tick read its definition, before the tick's bookkeeping.
        if (messages.some((m) => m.headers['queuekit-schedule'] === 'gone'))
          removed ??= queueRef.schedules.remove('gone');
        await inner.send(queue, messages);
      },
    });
    const queueRef = createQueue<null>({ name: 'sched-removed', driver, store });
    await queueRef.schedule('gone', { every: 1_000, data: null });
    const runs: string[] = [];
    queueRef.process(async (job) => {
      runs.push(job.headers['queuekit-schedule'] ?? '');
    });
    await until(() => runs.length >= 1, 'the first run', 10_000);
    expect(await removed).toBe(true);
    // Two more scheduler passes after the run: the tick's bookkeeping is over.
    const seen = passes();
    await until(() => passes() >= seen + 2, 'two scheduler passes', 15_000);
    expect(await queueRef.schedules.list()).toEqual([]);
    expect(runs).toEqual(['gone']);
    await queueRef.close();
    await inner.close();
  });

  it('a tick records its run without touching the definition; the next tick follows it', async () => {
    const store = new MemoryStore();
    const driver = createMemoryDriver({ broker: new MemoryBroker() });
    const queue = createQueue<{ v: number }>({ name: 'sched-runs', driver, store });
    await queue.schedule('every', { every: 1_000, data: { v: 1 } });
    const seen: number[] = [];
    queue.process(async (job) => {
      seen.push(job.data.v);
    });
    await until(() => seen.length >= 1, 'the first run', 10_000);
    const [info] = await queue.schedules.list();
    expect(info?.lastRunAt).toBeInstanceOf(Date);
    expect(info?.nextRunAt && info.lastRunAt && info.nextRunAt > info.lastRunAt).toBe(true);
    // Replacing the definition keeps the run history: no immediate re-run of the tick already run.
    await queue.schedule('every', { every: 1_000, data: { v: 2 } });
    await until(() => seen.length >= 2, 'the next run', 10_000);
    expect(seen).toEqual([1, 2]);
    await queue.close();
    await driver.close();
  });
});
