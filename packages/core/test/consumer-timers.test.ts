import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, createMemoryDriver, createQueue, MemoryBroker } from '../src/index.js';
import { MAX_TIMER_MS, safeTimeout } from '../src/timers.js';

const DAY = 24 * 3_600_000;

describe('durations past 2^31-1 ms', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('safeTimeout fires once, at its time, for delays a Node timer cannot hold', () => {
    vi.useFakeTimers();
    const fired = vi.fn();
    safeTimeout(fired, 30 * DAY);
    vi.advanceTimersByTime(10);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(30 * DAY - MAX_TIMER_MS - 20);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(20);
    expect(fired).toHaveBeenCalledTimes(1);
    const cleared = vi.fn();
    safeTimeout(cleared, 40 * DAY).clear();
    vi.advanceTimersByTime(41 * DAY);
    expect(cleared).not.toHaveBeenCalled();
  });

  it('a message delayed 30 days on memory:// does not make a waiting receive spin', async () => {
    const broker = new MemoryBroker();
    const driver = createMemoryDriver({ broker });
    const take = vi.spyOn(broker, 'take');
    await driver.send('far', [
      { id: 'a', name: 'later', body: new Uint8Array(), headers: {}, delayMs: 30 * DAY },
    ]);
    const got = await driver.receive('far', {
      max: 1,
      waitMs: 300,
      lockMs: 1000,
      signal: new AbortController().signal,
    });
    expect(got).toEqual([]);
    // One look at the queue, then one after the wait; a 1 ms wake-up loop would look hundreds of times.
    expect(take.mock.calls.length).toBeLessThan(10);
    expect(broker.counts('far').delayed).toBe(1);
    await driver.close();
  });

  it('lockDuration and pollInterval past the documented maximum are ConfigErrors naming the field', () => {
    const queue = createQueue({ name: 'bounds', driver: createMemoryDriver({ broker: new MemoryBroker() }) });
    expect(() => queue.process(async () => undefined, { lockDuration: 2 ** 31 })).toThrow(ConfigError);
    expect(() => queue.process(async () => undefined, { pollInterval: 2 ** 31 })).toThrow(/`pollInterval`/);
  });
});
