import { type Delivery, LockLostError, QueueClosedError } from '@queuekit/core';
import { expect, it } from 'vitest';
import type { DriverHarness } from '../harness.js';

/** A closed driver refuses work with QueueClosedError, and closing loses no message. */
export function lifecycleCases(h: DriverHarness): void {
  it('after close(), send and receive reject with QueueClosedError, and a second close() resolves', async () => {
    const queue = h.queueName();
    const used = await h.makeDriver();
    await used.send(queue, [h.message()]);
    await used.close();
    await expect(used.send(queue, [h.message()])).rejects.toBeInstanceOf(QueueClosedError);
    await expect(h.receive(used, queue, { waitMs: 0 })).rejects.toBeInstanceOf(QueueClosedError);
    await expect(used.close()).resolves.toBeUndefined();
    // A driver closed before its first call (lazy connections included) refuses the same way.
    const unused = await h.makeDriver();
    await unused.close();
    await expect(unused.send(queue, [h.message()])).rejects.toBeInstanceOf(QueueClosedError);
    await expect(h.receive(unused, queue, { waitMs: 0 })).rejects.toBeInstanceOf(QueueClosedError);
  });

  it('an ack after its driver closed rejects typed (QueueClosedError or LockLostError), and the message comes back', async () => {
    const queue = h.queueName();
    const driver = await h.makeDriver();
    const message = h.message();
    await driver.send(queue, [message]);
    const { byId } = await h.receiveIds(driver, queue, [message.id]);
    await driver.close();
    const error = await (byId.get(message.id) as Delivery).ack().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error instanceof QueueClosedError || error instanceof LockLostError, String(error)).toBe(true);
    const other = await h.driver();
    const again = (await h.receiveIds(other, queue, [message.id], { timeoutMs: 20_000 + h.lockMs })).byId.get(
      message.id,
    ) as Delivery;
    expect(again.deliveryCount).toBeGreaterThanOrEqual(2);
    await again.ack();
  });
}
