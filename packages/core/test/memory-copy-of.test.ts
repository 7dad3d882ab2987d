import { describe, expect, it } from 'vitest';
import { createMemoryDriver, DRIVER_API_VERSION, MemoryBroker } from '../src/index.js';

const options = (waitMs = 0) => ({ max: 5, waitMs, lockMs: 5_000, signal: new AbortController().signal });
const message = { id: 'a', name: 'n', body: new Uint8Array([1]), headers: { 'qk-attempt': '1' } };

describe('memory driver, contract v2 copyOf', () => {
  it('declares contract version 2', () => {
    expect(DRIVER_API_VERSION).toBe(2);
    expect(createMemoryDriver({ broker: new MemoryBroker() }).apiVersion).toBe(2);
  });

  it('a copy replaces the delivery it names: one message, one id, and the original ack resolves', async () => {
    const driver = createMemoryDriver({ broker: new MemoryBroker() });
    await driver.send('q', [message]);
    const [original] = await driver.receive('q', options());
    if (!original?.deliveryToken) throw new Error('expected a delivery token');
    await driver.send('q', [
      {
        ...message,
        headers: { 'qk-attempt': '2' },
        delayMs: 20,
        copyOf: { queue: 'q', id: original.id, deliveryToken: original.deliveryToken },
      },
    ]);
    expect(await driver.stats('q')).toMatchObject({ waiting: 0, delayed: 1, active: 0 });
    await original.ack();
    const [copy] = await driver.receive('q', options(5_000));
    expect(copy?.id).toBe('a');
    expect(copy?.headers['qk-attempt']).toBe('2');
    await copy?.ack();
    expect(await driver.stats('q')).toMatchObject({ waiting: 0, delayed: 0, active: 0 });
    await driver.close();
  });

  it('a copy naming no held delivery is sent as a new message', async () => {
    const driver = createMemoryDriver({ broker: new MemoryBroker() });
    await driver.send('q', [message]);
    const [original] = await driver.receive('q', options());
    await driver.send('q', [{ ...message, copyOf: { queue: 'q', id: 'a', deliveryToken: 'not-this-one' } }]);
    expect(await driver.stats('q')).toMatchObject({ waiting: 1, active: 1 });
    await original?.ack();
    await driver.close();
  });
});
