import { expect } from 'vitest';
import { rejectsWith } from '../../expect-error.js';
import type { DriverHarness } from '../harness.js';
import { it } from '../scope.js';

/** Exactly one settle call wins; every later one rejects with LockLostError and changes nothing. */
export function settleCases(h: DriverHarness): void {
  it('a second ack rejects with LockLostError, and the acked message never comes back', async () => {
    const { queue, driver, delivery } = await h.oneDelivery();
    await delivery.ack();
    await rejectsWith(delivery.ack(), 'ERR_LOCK_LOST');
    // Past its lock, a message whose ack was lost would be delivered again.
    expect(await h.deliveredWithin(driver, queue, h.lockMs + h.timeout(1000))).toEqual([]);
  });

  it('after an ack, deadLetter rejects with LockLostError and the dead letters stay empty', async () => {
    const { queue, driver, delivery } = await h.oneDelivery();
    await delivery.ack();
    await rejectsWith(delivery.deadLetter({ reason: 'unrecoverable', error: 'late' }), 'ERR_LOCK_LOST');
    expect(await driver.listDeadLetters(queue, 10)).toEqual([]);
  });

  it('after deadLetter, ack and a second deadLetter reject with LockLostError', async () => {
    const { delivery } = await h.oneDelivery();
    await delivery.deadLetter({ reason: 'unrecoverable', error: 'once' });
    await rejectsWith(delivery.ack(), 'ERR_LOCK_LOST');
    await rejectsWith(delivery.deadLetter({ reason: 'unrecoverable', error: 'twice' }), 'ERR_LOCK_LOST');
  });

  it('two concurrent acks: exactly one resolves, the other rejects with LockLostError', async () => {
    const { delivery } = await h.oneDelivery();
    const results = await Promise.allSettled([delivery.ack(), delivery.ack()]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected');
    await rejectsWith(Promise.reject(rejected?.reason), 'ERR_LOCK_LOST');
  });

  it('an ack racing a deadLetter: exactly one wins, the loser rejects with LockLostError', async () => {
    const { delivery } = await h.oneDelivery();
    const results = await Promise.allSettled([
      delivery.ack(),
      delivery.deadLetter({ reason: 'unrecoverable', error: 'race' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    await rejectsWith(Promise.reject(results.find((r) => r.status === 'rejected')?.reason), 'ERR_LOCK_LOST');
  });

  it('after release (drivers that have it), ack and extendLock reject with LockLostError', async (context) => {
    const { queue, driver, delivery } = await h.oneDelivery();
    // Without release the core re-sends a copy and acks: the driver has nothing more to settle twice.
    if (!delivery.release) return context.skip();
    await delivery.release(0);
    await rejectsWith(delivery.ack(), 'ERR_LOCK_LOST');
    if (delivery.extendLock) await rejectsWith(delivery.extendLock(h.lockMs), 'ERR_LOCK_LOST');
    // The released message is delivered again, once more counted.
    const again = await h.receiveOne(driver, queue, delivery.id);
    expect(again.deliveryCount).toBeGreaterThanOrEqual(2);
    await again.ack();
  });

  it.runIf(h.capabilities.lockRenewal)('extendLock after an ack rejects with LockLostError', async () => {
    const { delivery } = await h.oneDelivery();
    expect(typeof delivery.extendLock).toBe('function');
    await delivery.ack();
    await rejectsWith(Promise.resolve(delivery.extendLock?.(h.lockMs)), 'ERR_LOCK_LOST');
  });
}
