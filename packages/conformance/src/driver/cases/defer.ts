import { expect } from 'vitest';
import { rejectsWith } from '../../expect-error.js';
import type { DriverHarness } from '../harness.js';
import { it } from '../scope.js';

/** `defer` hides a delivery without counting one (the core's "arrived early"); it settles like `release`. */
export function deferCases(h: DriverHarness): void {
  const deferMs = Math.min(1500, h.capabilities.maxDelayMs);

  it('defer(ms) settles the delivery, hides the message at least ms, and does not count a delivery', async (context) => {
    const { queue, driver, message, delivery } = await h.oneDelivery({
      message: { headers: { 'qk-attempt': '2', 'x-kept': 'yes' } },
    });
    if (!delivery.defer) return context.skip();
    const count = delivery.deliveryCount;
    const deferredAt = Date.now();
    await delivery.defer(deferMs);
    await rejectsWith(delivery.ack(), 'ERR_LOCK_LOST');
    const again = await h.receiveOne(driver, queue, message.id, { timeoutMs: 20_000 + deferMs });
    expect(Date.now()).toBeGreaterThanOrEqual(deferredAt + deferMs);
    expect(again.deliveryCount).toBe(count);
    expect(again.headers).toMatchObject(message.headers);
    expect([...again.body]).toEqual([...message.body]);
    await again.ack();
  });
}
