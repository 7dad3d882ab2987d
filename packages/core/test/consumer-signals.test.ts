import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryDriver, MemoryBroker } from '../src/index.js';
import { linkSignals } from '../src/timers.js';

describe('receive signals', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('linkSignals aborts with the first source and detaches on dispose', () => {
    const a = new AbortController();
    const b = new AbortController();
    const linked = linkSignals(a.signal, b.signal);
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(1);
    b.abort('stop');
    expect(linked.signal.aborted).toBe(true);
    expect(linked.signal.reason).toBe('stop');
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(0);
    const other = linkSignals(a.signal);
    other.dispose();
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(0);
  });

  it('the memory driver leaves no listener and no AbortSignal.any composite behind per receive', async () => {
    const any = vi.spyOn(AbortSignal, 'any');
    const driver = createMemoryDriver({ broker: new MemoryBroker() });
    const stop = new AbortController();
    for (let i = 0; i < 50; i++)
      await driver.receive('idle', { max: 1, waitMs: 0, lockMs: 1000, signal: stop.signal });
    await driver.receive('idle', { max: 1, waitMs: 20, lockMs: 1000, signal: stop.signal });
    expect(any).not.toHaveBeenCalled();
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
    await driver.close();
  });
});
