import { type Driver, QueuekitError } from '@queuekit/core';
import { expect } from 'vitest';
import type { DriverHarness } from '../harness.js';
import { it } from '../scope.js';

/** With queue creation off, a queue that does not exist is refused by a typed error naming it, and not created. */
export function missingQueueCases(h: DriverHarness): void {
  const make = h.options.withoutQueueCreation;
  it.runIf(make !== undefined)(
    'send and receive on a queue that does not exist reject with a QueuekitError naming it',
    async () => {
      const queue = h.queueName();
      const driver: Driver = await (make as () => Driver | Promise<Driver>)();
      try {
        const sent = await driver.send(queue, [h.message()]).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(QueuekitError.is(sent), String(sent)).toBe(true);
        expect((sent as Error).message).toContain(queue);
        const received = await h.receive(driver, queue, { waitMs: 0 }).then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(QueuekitError.is(received), String(received)).toBe(true);
        expect((received as Error).message).toContain(queue);
        // Refusing did not create it: a second attempt is refused the same way.
        expect(QueuekitError.is(await driver.send(queue, [h.message()]).catch((e: unknown) => e))).toBe(true);
      } finally {
        await driver.close();
      }
    },
  );
}
