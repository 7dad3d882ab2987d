import { expect } from 'vitest';
import { rejectsWith } from '../../expect-error.js';
import type { DriverHarness } from '../harness.js';
import { it } from '../scope.js';

/** A closed driver refuses work with QueueClosedError, and closing loses no message. */
export function lifecycleCases(h: DriverHarness): void {
  it('after close(), send and receive reject with QueueClosedError, and a second close() resolves', async () => {
    const queue = h.queueName();
    const used = await h.makeDriver();
    await used.send(queue, [h.message()]);
    await used.close();
    await rejectsWith(used.send(queue, [h.message()]), 'ERR_QUEUE_CLOSED');
    await rejectsWith(h.receive(used, queue, { waitMs: 0 }), 'ERR_QUEUE_CLOSED');
    await expect(used.close()).resolves.toBeUndefined();
    // A driver closed before its first call (lazy connections included) refuses the same way.
    const unused = await h.makeDriver();
    await unused.close();
    await rejectsWith(unused.send(queue, [h.message()]), 'ERR_QUEUE_CLOSED');
    await rejectsWith(h.receive(unused, queue, { waitMs: 0 }), 'ERR_QUEUE_CLOSED');
  });

  it('an ack after its driver closed rejects typed (QueueClosedError or LockLostError), and the message comes back', async () => {
    const { queue, driver, message, delivery } = await h.oneDelivery({ driver: await h.makeDriver() });
    await driver.close();
    const error = await delivery.ack().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    await rejectsWith(Promise.reject(error), ['ERR_QUEUE_CLOSED', 'ERR_LOCK_LOST']);
    const other = await h.driver();
    const again = await h.receiveOne(other, queue, message.id, { timeoutMs: 20_000 + h.lockMs });
    expect(again.deliveryCount).toBeGreaterThanOrEqual(2);
    await again.ack();
  });
}
