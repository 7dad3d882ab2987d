import { getEventListeners } from 'node:events';
import { afterEach, expect, it, vi } from 'vitest';
import { makeDriver, uniqueName } from './helpers.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

afterEach(() => {
  vi.restoreAllMocks();
});

it('300 receives with one long-lived consumer signal leave no listener on it and make no AbortSignal.any (issue 13)', async () => {
  const driver = makeDriver();
  const queue = uniqueName('qk-listeners');
  const consumer = new AbortController();
  try {
    await driver.stats(queue);
    const before = getEventListeners(consumer.signal, 'abort').length;
    // AbortSignal.any() composites hold no listener on their source (so the count alone cannot see them).
    const any = vi.spyOn(AbortSignal, 'any');
    for (let i = 0; i < 300; i++)
      await driver.receive(queue, { max: 1, waitMs: 0, lockMs: 10_000, signal: consumer.signal });
    expect(any).not.toHaveBeenCalled();
    expect(getEventListeners(consumer.signal, 'abort').length).toBe(before);
    const waiting = driver.receive(queue, {
      max: 1,
      waitMs: 30_000,
      lockMs: 10_000,
      signal: consumer.signal,
    });
    setTimeout(() => consumer.abort(), 100);
    expect(await waiting).toEqual([]);
    expect(getEventListeners(consumer.signal, 'abort').length).toBe(before);
  } finally {
    await driver.deleteQueue(queue).catch(() => undefined);
    await driver.close();
  }
});

it('declares deliveryCount exact; lockedUntil is the ack deadline and follows extendLock (issue 12)', async () => {
  const driver = makeDriver();
  const queue = uniqueName('qk-locked');
  const signal = new AbortController().signal;
  try {
    expect(driver.capabilities.deliveryCount).toBe('exact');
    await driver.send(queue, [{ id: 'a', name: 'n', body: utf8('{}'), headers: {} }]);
    const before = Date.now();
    const got = [];
    while (got.length === 0)
      got.push(...(await driver.receive(queue, { max: 1, waitMs: 5000, lockMs: 5000, signal })));
    const delivery = got[0];
    const first = delivery?.lockedUntil ?? 0;
    expect(first).toBeGreaterThan(before);
    expect(first).toBeLessThanOrEqual(Date.now() + 5000);
    const extendedAt = Date.now();
    await delivery?.extendLock?.(60_000);
    const second = delivery?.lockedUntil ?? 0;
    // The kit keeps the lock on the monotonic clock: read back in epoch ms it may be a fraction of a ms early.
    expect(second).toBeGreaterThanOrEqual(extendedAt + 60_000 - 1);
    expect(second).toBeLessThanOrEqual(Date.now() + 60_000);
    await delivery?.ack();
  } finally {
    await driver.deleteQueue(queue).catch(() => undefined);
    await driver.close();
  }
});
