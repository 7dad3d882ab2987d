import { BrokerUnavailableError, createQueue, type Queue } from '@queuekit/core';
import { expect, it } from 'vitest';
import { faultyDriver } from '../faults.js';
import { deferred, type Harness } from '../harness.js';
import { startTcpProxy } from '../proxy.js';
import { quietFor } from './locks.js';

/** A consumer started while its broker is down. */
export function outageCases(h: Harness): void {
  it('a consumer started on an unreachable broker consumes once the broker is reachable', async () => {
    const name = h.queueName();
    const rateLimit = { max: 100, duration: 1000 };
    const via = h.options.viaProxy;
    const proxy = via ? await startTcpProxy(via.target, { paused: true }) : undefined;
    let down = true;
    let consumer: Queue<{ n: number }>;
    if (via && proxy) {
      // A URL queue: the driver itself is created while the broker cannot be reached.
      consumer = createQueue<{ n: number }>({ name, url: via.url(proxy), store: h.store, rateLimit });
    } else {
      const driver = faultyDriver(await h.driver(), {
        beforeCall: () => {
          if (down) throw new BrokerUnavailableError('the broker is unreachable (injected)');
        },
      });
      consumer = createQueue<{ n: number }>({ name, driver, store: h.store, rateLimit });
    }
    h.adopt(consumer, { errors: true });
    try {
      const got = deferred<{ n: number }>();
      let handled = 0;
      consumer.process(async (job) => {
        handled++;
        got.resolve(job.data);
      });
      const producer = await h.queue<{ n: number }>(name);
      await producer.send('after-outage', { n: 7 });
      await quietFor(Math.max(1500, h.lockMs));
      expect(handled).toBe(0);
      down = false;
      proxy?.resume();
      expect(await got.promise).toEqual({ n: 7 });
    } finally {
      await consumer.close({ timeout: 0 });
      await proxy?.close();
    }
  });
}
