import { expect } from 'vitest';
import type { DriverHarness } from '../harness.js';
import { it } from '../scope.js';

/** One `send` call of up to `maxBatchSize` messages is accepted whole. */
export function batchCases(h: DriverHarness): void {
  const size = h.capabilities.maxBatchSize;

  it(`one send of maxBatchSize (${size}) messages delivers every one of them`, async () => {
    const queue = h.queueName();
    const driver = await h.driver();
    const messages = Array.from({ length: size }, (_, i) => h.message({ headers: { 'x-index': String(i) } }));
    await driver.send(queue, messages);
    const seen = new Map<string, string | undefined>();
    const deadline = Date.now() + h.timeout(30_000);
    while (seen.size < size && Date.now() < deadline) {
      const got = await h.receive(driver, queue, { max: 100 });
      for (const delivery of got) seen.set(delivery.id, delivery.headers['x-index']);
      await Promise.all(got.map((delivery) => delivery.ack()));
    }
    expect(seen.size).toBe(size);
    expect(messages.filter((m) => seen.get(m.id) !== m.headers['x-index']).map((m) => m.id)).toEqual([]);
  });
}
