import { createMemoryDriver, type Delivery, type Driver, MemoryBroker } from '@queuekit/core';
import { afterEach, describe } from 'vitest';
import { delayCases } from '../src/cases/delay.js';
import { createHarness } from '../src/harness.js';

/** How late the deliveries of the first hopping job reach the core: a load spike, as on a machine at load 7-8. */
const SPIKE_MS = 500;

/**
 * A memory driver whose receives hand the deliveries of one job named `hops` (the first seen) to the
 * core SPIKE_MS late: the first hop comes 0.5 s late and the second as late, 1 s in all.
 */
function spiking(broker: MemoryBroker, spike: { id?: string }): Driver {
  const driver = createMemoryDriver({ broker });
  const receive = driver.receive.bind(driver);
  driver.receive = async (queue, options): Promise<Delivery[]> => {
    const deliveries = await receive(queue, options);
    const hopping = deliveries.find((delivery) => delivery.headers['qk-name'] === 'hops');
    if (hopping) spike.id ??= hopping.id;
    if (hopping && hopping.id === spike.id) await new Promise((resolve) => setTimeout(resolve, SPIKE_MS));
    return deliveries;
  };
  return driver;
}

// The delay cases where the first job through hops meets a load spike: the exact count of parks still
// holds (it failed before, with 1 park: the second delivery was due when it arrived).
describe("delays when a load spike makes one job's deliveries late", async () => {
  const broker = new MemoryBroker();
  const spike: { id?: string } = {};
  const makeDriver = () => spiking(broker, spike);
  const probe = makeDriver();
  const h = createHarness(makeDriver, probe, { lockMs: 500, queuePrefix: 'qkd' });
  await probe.close();
  afterEach(() => h.cleanup());
  delayCases(h);
});
