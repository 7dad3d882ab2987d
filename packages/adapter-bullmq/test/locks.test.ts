import { getEventListeners } from 'node:events';
import { type Delivery, LockLostError, utf8 } from '@queuekit/core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { BullmqDriver } from '../src/index.js';
import { adminRedis, deletePrefix, testDriver, uniquePrefix, uniqueQueue } from './helpers.js';

const prefix = uniquePrefix('locks');
const drivers: BullmqDriver[] = [];
function driver(): BullmqDriver {
  const d = testDriver(prefix);
  drivers.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(drivers.map((d) => d.close()));
  await deletePrefix(prefix);
});

const message = (id: string) => ({ id, name: 'job', body: utf8('{}'), headers: {} });

/** When Redis will expire the job's lock (epoch ms), read from the lock key itself. */
async function redisLockExpiry(queue: string, delivery: Delivery): Promise<number> {
  const admin = adminRedis();
  try {
    const bullId = (delivery.raw as { id: string }).id;
    const pttl = await admin.pttl(`${prefix}:${queue}:${bullId}:lock`);
    expect(pttl).toBeGreaterThan(0);
    return Date.now() + pttl;
  } finally {
    admin.disconnect();
  }
}

/** lockedUntil never after the real expiry (a late renewal would lose the lock), and close to it. */
async function expectAccurate(queue: string, delivery: Delivery | undefined): Promise<void> {
  expect(delivery?.lockedUntil).toBeTypeOf('number');
  const real = await redisLockExpiry(queue, delivery as Delivery);
  const claimed = delivery?.lockedUntil as number;
  expect(claimed).toBeLessThanOrEqual(real + 5);
  expect(claimed).toBeGreaterThan(real - 1000);
}

describe('BullMQ locks and counts', () => {
  it('declares an exact delivery count and no reserved headers', () => {
    const d = driver();
    expect(d.capabilities.deliveryCount).toBe('exact');
    expect(d.reservedHeaders).toEqual([]);
  });

  it('lockedUntil follows the lock Redis holds, on receive and after extendLock', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [message('l-1')]);
    const signal = new AbortController().signal;
    const [delivery] = await d.receive(queue, { max: 1, waitMs: 5000, lockMs: 4000, signal });
    await expectAccurate(queue, delivery);
    await delivery?.extendLock?.(20_000);
    expect(delivery?.lockedUntil).toBeGreaterThan(Date.now() + 15_000);
    await expectAccurate(queue, delivery);
    await delivery?.ack();
  });

  it('a job fetched while completing another (buffered) counts its lock from that fetch', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [message('b-1'), message('b-2')]);
    const signal = new AbortController().signal;
    const [first] = await d.receive(queue, { max: 1, waitMs: 5000, lockMs: 4000, signal });
    // Completing with a consumer still taking fetches the next job under lock, into the buffer.
    await first?.ack();
    const [second] = await d.receive(queue, { max: 1, waitMs: 0, lockMs: 4000, signal });
    expect(second?.id).toBe('b-2');
    await expectAccurate(queue, second);
    await second?.ack();
  });

  it('a buffered job whose lock has run a third is extended before it is handed out', async () => {
    const d = driver();
    const queue = uniqueQueue();
    const lockMs = 900;
    await d.send(queue, [message('s-1'), message('s-2')]);
    const signal = new AbortController().signal;
    const [first] = await d.receive(queue, { max: 1, waitMs: 5000, lockMs, signal });
    await first?.ack(); // fetches s-2 under lock into the buffer
    const bufferedAt = Date.now();
    // Time passing, not a race: the buffered lock ages past a third (the buffer keeps it half a lock).
    await new Promise((resolve) => setTimeout(resolve, lockMs / 3 + 50));
    const [second] = await d.receive(queue, { max: 1, waitMs: 0, lockMs, signal });
    expect(second?.id).toBe('s-2');
    expect(Date.now() - bufferedAt).toBeLessThan(lockMs / 2);
    expect((second?.lockedUntil ?? 0) - Date.now()).toBeGreaterThan((lockMs * 2) / 3 - 50);
    await expectAccurate(queue, second);
    await second?.ack();
  });

  it('a buffered job ages its lock on a monotonic clock: a wall clock set back does not make it look fresh', async () => {
    const d = driver();
    const queue = uniqueQueue();
    const lockMs = 900;
    await d.send(queue, [message('w-1'), message('w-2')]);
    const signal = new AbortController().signal;
    const [first] = await d.receive(queue, { max: 1, waitMs: 5000, lockMs, signal });
    await first?.ack(); // fetches w-2 under lock into the buffer
    const realNow = Date.now.bind(Date);
    // The wall clock is set back ten minutes while w-2 waits in the buffer past a third of its lock.
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 600_000);
    try {
      await new Promise((resolve) => setTimeout(resolve, lockMs / 3 + 50));
      const [second] = await d.receive(queue, { max: 1, waitMs: 0, lockMs, signal });
      expect(second?.id).toBe('w-2');
      // Renewed before it was handed out (it had aged), and reported against the wall clock as it reads now.
      const left = (second?.lockedUntil ?? 0) - Date.now();
      expect(left).toBeGreaterThan((lockMs * 2) / 3 - 50);
      expect(left).toBeLessThanOrEqual(lockMs + 5);
      clock.mockRestore();
      await expectAccurate(queue, second);
      await second?.ack();
    } finally {
      clock.mockRestore();
    }
  });

  it('a renewal that meets the settlement in progress resolves with it; one after the settlement is LockLostError', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [message('r-1'), message('r-2')]);
    const signal = new AbortController().signal;
    const [during, after] = await d.receive(queue, { max: 2, waitMs: 5000, lockMs: 4000, signal });
    const acking = during?.ack();
    const renewing = during?.extendLock?.(4000);
    await acking;
    await expect(renewing).resolves.toBeUndefined();
    await after?.ack();
    await expect(after?.extendLock?.(4000)).rejects.toBeInstanceOf(LockLostError);
  });

  it('a renewal that meets an in-place replacement (a copy sent with copyOf) resolves as the replacement does', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [message('p-1')]);
    const signal = new AbortController().signal;
    const [held] = await d.receive(queue, { max: 1, waitMs: 5000, lockMs: 4000, signal });
    const copy = { ...message('p-1'), copyOf: { queue, id: 'p-1', deliveryToken: held?.deliveryToken } };
    const replacing = d.send(queue, [{ ...copy, headers: { 'qk-attempt': '2' }, delayMs: 60_000 }]);
    const during = held?.extendLock?.(4000);
    await replacing;
    await expect(during).resolves.toBeUndefined();
    // The job now waits in the delayed set without a lock: a later renewal resolves too, and so does the ack.
    await expect(held?.extendLock?.(4000)).resolves.toBeUndefined();
    await expect(held?.ack()).resolves.toBeUndefined();
    const admin = adminRedis();
    try {
      expect(await admin.zcard(`${prefix}:${queue}:delayed`)).toBe(1);
    } finally {
      admin.disconnect();
    }
  });

  it('receives leave no abort listener behind on a long-lived signal', async () => {
    const d = driver();
    const queue = uniqueQueue();
    const controller = new AbortController();
    for (let i = 0; i < 50; i++) {
      await d.receive(queue, { max: 2, waitMs: 5, lockMs: 4000, signal: controller.signal });
    }
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});
