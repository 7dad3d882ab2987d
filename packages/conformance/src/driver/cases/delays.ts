import { expect } from 'vitest';
import type { DriverHarness } from '../harness.js';
import { it } from '../scope.js';

/** `delayMs` on send (and on release) hides a message for at least that long: never early. */
export function delayCases(h: DriverHarness): void {
  // Not a whole number of seconds, so a driver rounding to its broker's seconds must round up.
  const delayMs = Math.min(1500, h.capabilities.maxDelayMs);

  it('a message sent with delayMs is never delivered early; one sent without it is not held back', async () => {
    const queue = h.queueName();
    const driver = await h.driver();
    const delayed = h.message({ delayMs });
    const now = h.message();
    const sentAt = Date.now();
    await driver.send(queue, h.capabilities.maxBatchSize >= 2 ? [delayed, now] : [delayed]);
    if (h.capabilities.maxBatchSize < 2) await driver.send(queue, [now]);
    // Polled without pause, so a delivery's time is at most a round trip after the message became visible.
    const arrived = new Map<string, number>();
    const deadline = Date.now() + h.timeout(20_000) + delayMs;
    while (arrived.size < 2 && Date.now() < deadline) {
      for (const delivery of await h.receive(driver, queue, { waitMs: 1000 })) {
        if (!arrived.has(delivery.id)) arrived.set(delivery.id, Date.now());
        await delivery.ack();
      }
    }
    expect([...arrived.keys()].sort()).toEqual([delayed.id, now.id].sort());
    expect(arrived.get(delayed.id)).toBeGreaterThanOrEqual(sentAt + delayMs);
    expect(arrived.get(now.id)).toBeLessThanOrEqual(arrived.get(delayed.id) as number);
  });

  it('a delivery released with a delay is never delivered again early (drivers with release)', async (context) => {
    const { queue, driver, message, delivery } = await h.oneDelivery();
    if (!delivery.release) return context.skip();
    const releasedAt = Date.now();
    await delivery.release(delayMs, { error: 'try later' });
    const again = await h.receiveOne(driver, queue, message.id, { timeoutMs: 20_000 + delayMs });
    expect(Date.now()).toBeGreaterThanOrEqual(releasedAt + delayMs);
    expect(again.deliveryCount).toBeGreaterThanOrEqual(2);
    await again.ack();
  });
}
