/**
 * Timers of the receive path past Node's 2^31-1 ms timer limit (about 24.8 days): a bare `setTimeout` that long
 * fires after 1 ms. Fake timers behave the same way, so these fail on a bare `setTimeout`.
 */
import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import { MAX_TIMER_MS } from '@queuekit/core';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { LockKeeper, Settlement, SettlementLane } from '../src/receiver.js';

const DAY = 86_400_000;
const FAR = 30 * DAY;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

it('a refused settlement keeps its delivery held until its lock ends, 30 days away', async () => {
  expect(FAR).toBeGreaterThan(MAX_TIMER_MS);
  const lockedUntil = Date.now() + FAR;
  const timedOut = Object.assign(new Error('complete timed out'), { code: 'ServiceTimeout' });
  const receiver = {
    completeMessage: () => Promise.reject(timedOut),
  } as unknown as ServiceBusReceiver;
  const keeper = new LockKeeper(async () => new Date(lockedUntil), lockedUntil, 1000);
  const done = vi.fn();
  const settlement = new Settlement(
    receiver,
    new SettlementLane(),
    {} as ServiceBusReceivedMessage,
    keeper,
    undefined,
    done,
  );
  await expect(settlement.ack()).rejects.toBe(timedOut);
  await vi.advanceTimersByTimeAsync(1000);
  expect(done).not.toHaveBeenCalled();
  await vi.advanceTimersByTimeAsync(FAR - 2000);
  expect(done).not.toHaveBeenCalled();
  await vi.advanceTimersByTimeAsync(2000);
  expect(done).toHaveBeenCalledOnce();
});

it('a lock held 30 days runs out after 30 days, not at once', async () => {
  const lockedUntil = Date.now() + FAR;
  const expired = vi.fn();
  const keeper = new LockKeeper(async () => new Date(lockedUntil), lockedUntil, FAR, undefined, expired);
  try {
    await vi.advanceTimersByTimeAsync(1000);
    expect(expired).not.toHaveBeenCalled();
    expect(keeper.heldUntil).toBe(lockedUntil);
    await vi.advanceTimersByTimeAsync(FAR - 1000);
    expect(expired).toHaveBeenCalledOnce();
  } finally {
    keeper.stop();
  }
});

it('a broker lock 60 days long is renewed with half of it left, not at once', async () => {
  const renew = vi.fn(async () => new Date(Date.now() + 2 * FAR));
  const keeper = new LockKeeper(renew, Date.now() + 2 * FAR, 4 * FAR);
  try {
    await vi.advanceTimersByTimeAsync(1000);
    expect(renew).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(FAR - 2000);
    expect(renew).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(2000);
    expect(renew).toHaveBeenCalled();
  } finally {
    keeper.stop();
  }
});
