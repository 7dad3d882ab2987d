import { describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue, type Delivery, MemoryBroker } from '../src/index.js';
import { until } from './helpers.js';
import { wrapDriver } from './wrap.js';

describe('close() while the broker answers nothing', () => {
  it('returns within its timeout when a receive never resolves (a black-holed connection), then closes the driver', async () => {
    const inner = createMemoryDriver({ broker: new MemoryBroker() });
    let receiving = false;
    let driverClosed = false;
    const driver = wrapDriver(inner, {
      // Ignores its signal, as a client waiting on a socket that never answers does.
      receive: () => {
        receiving = true;
        return new Promise<Delivery[]>(() => undefined);
      },
      close: async () => {
        driverClosed = true;
        await inner.close();
      },
    });
    const queue = createQueue<null>({ name: 'hung-receive', driver, ownsDriver: true });
    queue.on('error', () => undefined);
    queue.process(async () => undefined);
    await until(() => receiving, 'the consumer to be inside receive', 5_000);
    const startedAt = Date.now();
    const closed = await Promise.race([
      queue.close({ timeout: 200 }).then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 3_000)),
    ]);
    expect(closed).toBe(true);
    expect(Date.now() - startedAt).toBeLessThan(3_000);
    expect(driverClosed).toBe(true);
  });
});
