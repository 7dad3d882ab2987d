import type { DeliveryRef, OutgoingMessage } from '@queuekit/core';
import { expect } from 'vitest';
import type { DriverHarness } from '../harness.js';
import { it } from '../scope.js';

/**
 * A send marked as a copy of a held delivery (a retry-after, a delay hop): the core then acks the original.
 * The driver may send a new message or replace the original in place; either way the ack resolves and the
 * job exists once, as the copy. The core sets `copyOf` only for drivers declaring contract version 2.
 */
export function copyCases(h: DriverHarness): void {
  const delayMs = Math.min(1000, h.capabilities.maxDelayMs);

  it.runIf(h.apiVersion >= 2)(
    'a delayed copy of a held delivery: the original ack resolves, the copy arrives once, not early, as sent',
    async () => {
      const {
        queue,
        driver,
        message: original,
        delivery: held,
      } = await h.oneDelivery({ message: { headers: { 'qk-attempt': '1', 'x-kept': 'yes' } } });
      const copyOf: DeliveryRef = {
        queue,
        id: held.id,
        ...(held.deliveryToken === undefined ? {} : { deliveryToken: held.deliveryToken }),
      };
      const copy: OutgoingMessage = {
        ...original,
        headers: { ...original.headers, 'qk-attempt': '2' },
        delayMs,
        copyOf,
      };
      const sentAt = Date.now();
      await driver.send(queue, [copy]);
      await held.ack();
      const again = await h.receiveOne(driver, queue, original.id, { timeoutMs: 20_000 + delayMs });
      expect(Date.now()).toBeGreaterThanOrEqual(sentAt + delayMs);
      expect(again.headers).toMatchObject(copy.headers);
      expect([...again.body]).toEqual([...original.body]);
      await again.ack();
      // Neither the original nor a second copy comes back past a lock.
      expect(await h.deliveredWithin(driver, queue, h.lockMs + h.timeout(1000))).toEqual([]);
    },
  );
}
