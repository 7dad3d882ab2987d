import { getEventListeners } from 'node:events';
import { createMemoryDriver, MemoryBroker } from '@queuekit/core';
import { expect, it } from 'vitest';
import { simulatedNetwork } from '../src/index.js';

it('calls crossing a slow simulated network leave no abort listener on the signal they share', async () => {
  const network = simulatedNetwork();
  const driver = network.wrap(createMemoryDriver({ broker: new MemoryBroker() }));
  const stop = new AbortController();
  try {
    network.latency(5);
    // A consumer passes one signal to every receive: 12 receives, each crossing the network twice.
    for (let i = 0; i < 12; i++)
      await driver.receive('qk-network', { max: 1, waitMs: 0, lockMs: 1000, signal: stop.signal });
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  } finally {
    stop.abort();
    await driver.close();
  }
});
