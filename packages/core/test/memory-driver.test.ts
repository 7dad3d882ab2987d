import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  createMemoryDriver,
  LockLostError,
  MemoryBroker,
  UnsupportedFeatureError,
} from '../src/index.js';

const message = { id: 'a', name: 'n', body: new Uint8Array([1]), headers: {} };
const options = (waitMs = 0) => ({ max: 1, waitMs, lockMs: 5_000, signal: new AbortController().signal });

describe('memory driver on the driver kit', () => {
  it('defer hides the message without counting a delivery, and settles it', async () => {
    const driver = createMemoryDriver({ broker: new MemoryBroker() });
    await driver.send('q', [message]);
    const [first] = await driver.receive('q', options());
    expect(first?.deliveryCount).toBe(1);
    await first?.defer?.(30);
    await expect(first?.ack()).rejects.toBeInstanceOf(LockLostError);
    expect(await driver.receive('q', options())).toEqual([]);
    const [again] = await driver.receive('q', options(5_000)); // long-polls until it is visible again
    expect(again?.deliveryCount).toBe(1);
    await again?.release?.(0);
    const [third] = await driver.receive('q', options(5_000));
    expect(third?.deliveryCount).toBe(2);
    await driver.close();
  });

  it('refuses what the core never sends with typed errors naming it', async () => {
    const driver = createMemoryDriver({
      broker: new MemoryBroker(),
      limitCapabilities: { maxBatchSize: 1, maxDelayMs: 1_000, priority: 'emulated' },
    });
    await expect(driver.send('q', [message, { ...message, id: 'b' }])).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      field: 'messages',
    });
    await expect(driver.send('q', [{ ...message, delayMs: 5_000 }])).rejects.toMatchObject({
      field: 'delayMs',
    });
    await expect(driver.send('q', [{ ...message, priority: 3 }])).rejects.toBeInstanceOf(
      UnsupportedFeatureError,
    );
    await expect(driver.send('q', [message, message])).rejects.toBeInstanceOf(ConfigError);
    await driver.close();
  });
});
