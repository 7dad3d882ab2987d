import { afterEach, describe, expect, it, vi } from 'vitest';
import { BandReceiver } from '../src/consumer/band-receiver.js';
import type { Delivery, Driver, ReceiveOptions } from '../src/driver.js';
import { createMemoryDriver } from '../src/index.js';
import { PriorityBands } from '../src/semantics/priority.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A driver whose lowest band always has a job and whose other bands are empty, its receives per queue counted. */
function drainingLowestBand() {
  const memory = createMemoryDriver({ limitCapabilities: { priority: 'emulated' } });
  const bands = new PriorityBands(memory, 'recheck');
  const lowest = bands.queues[bands.queues.length - 1] as string;
  const counts = new Map<string, number>();
  let higherJobOn: string | undefined;
  const driver = {
    capabilities: memory.capabilities,
    receive: async (queue: string, _options: ReceiveOptions): Promise<Delivery[]> => {
      counts.set(queue, (counts.get(queue) ?? 0) + 1);
      if (queue === lowest || queue === higherJobOn)
        return [{ id: `job-on-${queue}` } as unknown as Delivery];
      return [];
    },
  } as unknown as Driver;
  return { driver, bands, lowest, counts, jobOn: (queue: string | undefined) => (higherJobOn = queue) };
}

describe('rechecking empty bands above the one being drained', () => {
  it('backs off a band found empty again and again (about 1 request a second), and asks at once again after a job', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(0);
    const { driver, bands, lowest, counts, jobOn } = drainingLowestBand();
    const receiver = new BandReceiver(driver, bands, 30_000, new AbortController().signal);
    // 3 s of a consumer draining the lowest band, one receive every 50 ms.
    for (let t = 0; t < 3_000; t += 50) {
      vi.setSystemTime(t);
      const got = await receiver.receive(10, 1_000);
      expect(got.queue).toBe(lowest);
    }
    const top = bands.queues[0] as string;
    // A flat 200 ms recheck asked each empty band 15 times; doubling to 1 s asks at 0, 0.2, 0.6, 1.4, 2.4 s.
    expect(counts.get(top)).toBe(5);
    for (const queue of bands.queues.slice(0, -1)) expect(counts.get(queue)).toBe(5);
    // A job on the top band: found at its next recheck, then that band is asked on every receive again.
    jobOn(top);
    let foundAt: number | undefined;
    for (let t = 3_000; t < 4_500 && foundAt === undefined; t += 50) {
      vi.setSystemTime(t);
      if ((await receiver.receive(10, 1_000)).queue === top) foundAt = t;
    }
    expect(foundAt).toBeDefined();
    expect(foundAt as number).toBeLessThanOrEqual(3_400);
    jobOn(undefined);
    const before = counts.get(top) as number;
    vi.setSystemTime(4_600);
    await receiver.receive(10, 1_000);
    vi.setSystemTime(4_700);
    await receiver.receive(10, 1_000);
    vi.setSystemTime(4_850);
    await receiver.receive(10, 1_000);
    // Empty again at 4.6 s: rechecked 200 ms later (4.8 s), not a second later.
    expect(counts.get(top)).toBe(before + 2);
  });
});

describe('sweeping the bands above the one being drained', () => {
  it('asks the bands found empty before together, in one round trip, not one after another', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(0);
    const { driver, bands, lowest } = drainingLowestBand();
    const receive = driver.receive.bind(driver);
    let inFlight = 0;
    let mostInFlight = 0;
    driver.receive = async (queue: string, options: ReceiveOptions) => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      try {
        // An answer that takes a turn of the event loop, as a broker's does.
        await new Promise((resolve) => setImmediate(resolve));
        return await receive(queue, options);
      } finally {
        inFlight--;
      }
    };
    const receiver = new BandReceiver(driver, bands, 30_000, new AbortController().signal);
    // First look: no band is known empty yet, so each is asked alone, best first.
    expect((await receiver.receive(10, 1_000)).queue).toBe(lowest);
    expect(mostInFlight).toBe(1);
    // At their recheck, the nine bands above (all found empty then) are asked at once.
    vi.setSystemTime(250);
    expect((await receiver.receive(10, 1_000)).queue).toBe(lowest);
    expect(mostInFlight).toBe(bands.queues.length - 1);
  });

  it('answers the best band a joint look found jobs on, and keeps the jobs of a lower one for after it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(0);
    const { driver, bands, lowest } = drainingLowestBand();
    const receiver = new BandReceiver(driver, bands, 30_000, new AbortController().signal);
    expect((await receiver.receive(10, 1_000)).queue).toBe(lowest);
    // Jobs appear on bands 2 and 5 (indexes into the band list, best first) while both are known empty.
    const second = bands.queues[2] as string;
    const fifth = bands.queues[5] as string;
    const receive = driver.receive.bind(driver);
    const served = new Set<string>();
    driver.receive = async (queue: string, options: ReceiveOptions) => {
      if ((queue === second || queue === fifth) && !served.has(queue)) {
        served.add(queue);
        return [{ id: `job-on-${queue}` } as unknown as Delivery];
      }
      return receive(queue, options);
    };
    vi.setSystemTime(250);
    const first = await receiver.receive(10, 1_000);
    expect(first.queue).toBe(second);
    // The band-5 job was taken in the same look: handed out next, before the lowest band's.
    const next = await receiver.receive(10, 1_000);
    expect(next.queue).toBe(fifth);
    expect(next.deliveries.map((d) => d.id)).toEqual([`job-on-${fifth}`]);
    receiver.letGo();
  });
});
