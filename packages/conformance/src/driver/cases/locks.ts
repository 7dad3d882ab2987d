import type { Delivery } from '@queuekit/core';
import { expect } from 'vitest';
import { until } from '../../harness.js';
import { rejectsWith } from '../../expect-error.js';
import type { DriverHarness } from '../harness.js';
import { it } from '../scope.js';

/** Locks taken by `receive` expire (on brokers that redeliver on a timeout) and renewals move them. */
export function lockCases(h: DriverHarness): void {
  const expiring = h.capabilities.redelivery === 'timeout';

  /** When the lock of `delivery`, received at `receivedAt`, runs out as far as the case can tell. */
  const lockEnd = (delivery: Delivery, receivedAt: number) =>
    Math.max(delivery.lockedUntil ?? 0, receivedAt + h.lockMs);

  it.runIf(expiring)(
    'a settle after the lock expired rejects with LockLostError, and the message is delivered again',
    async () => {
      const { queue, driver, message, delivery, receivedAt } = await h.oneDelivery();
      if (delivery.lockedUntil !== undefined)
        expect(delivery.lockedUntil).toBeGreaterThan(receivedAt - h.lockMs);
      const end = lockEnd(delivery, receivedAt);
      await until('the lock to run out', end - Date.now() + h.timeout(2000), () => Date.now() > end + 50);
      await rejectsWith(delivery.ack(), 'ERR_LOCK_LOST');
      // The same driver receives it again: a prefetching driver may hold the redelivery in its own buffer.
      const again = await h.receiveOne(driver, queue, message.id);
      expect(again.deliveryCount).toBeGreaterThanOrEqual(2);
      await rejectsWith(delivery.deadLetter({ reason: 'unrecoverable' }), 'ERR_LOCK_LOST');
      await again.ack();
    },
  );

  it.runIf(expiring && h.capabilities.lockRenewal)(
    'extendLock keeps the message locked past its first lock and moves lockedUntil',
    async () => {
      const { queue, delivery, receivedAt } = await h.oneDelivery();
      const firstEnd = lockEnd(delivery, receivedAt);
      const before = delivery.lockedUntil;
      const extendedAt = Date.now();
      await delivery.extendLock?.(3 * h.lockMs);
      if (before !== undefined) {
        expect(delivery.lockedUntil).toBeGreaterThan(before);
        expect(delivery.lockedUntil).toBeGreaterThanOrEqual(extendedAt + 2 * h.lockMs);
      }
      // Another consumer sees nothing until well past the first lock.
      const other = await h.driver();
      const seen = await h.deliveredWithin(other, queue, firstEnd - Date.now() + h.lockMs / 2);
      expect(seen.map((d) => d.id)).toEqual([]);
      await delivery.ack();
    },
  );
}
