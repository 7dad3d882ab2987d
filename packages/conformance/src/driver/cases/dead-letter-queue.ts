import { CORE_HEADERS } from '@queuekit/core';
import { expect } from 'vitest';
import type { DriverHarness } from '../harness.js';
import { it } from '../scope.js';

/** Where a broker's dead letters are an ordinary queue, the hook names it and tools can read it there. */
export function deadLetterQueueCases(h: DriverHarness): void {
  it('deadLetterQueue.queueOf names an ordinary queue of its own that holds what deadLetter moved', async (context) => {
    const queue = h.queueName();
    const driver = await h.driver();
    const hook = driver.deadLetterQueue;
    if (!hook) return context.skip();
    const dlq = hook.queueOf(queue);
    expect(typeof dlq).toBe('string');
    expect(dlq).not.toBe(queue);
    expect(hook.queueOf(queue)).toBe(dlq);
    expect(hook.queueOf(h.queueName())).not.toBe(dlq);
    const message = h.message({ headers: { [CORE_HEADERS.attempt]: '4', 'x-kept': 'yes' } });
    await driver.send(queue, [message]);
    const held = await h.receiveOne(driver, queue, message.id);
    await held.deadLetter({ reason: 'max-attempts', error: 'boom', attempts: 4 });
    const read = await h.receiveOne(driver, dlq, message.id);
    expect(read.headers).toMatchObject(message.headers);
    expect([...read.body]).toEqual([...message.body]);
  });
}
