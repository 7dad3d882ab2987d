import { describe, expect, it } from 'vitest';
import {
  createMemoryDriver,
  createQueue,
  type Delivery,
  type Driver,
  MemoryBroker,
  type OutgoingMessage,
  RetryAfterError,
} from '../src/index.js';
import { until } from './helpers.js';
import { wrapDriver } from './wrap.js';

/** A memory driver recording what is sent, its deliveries without `release`/`defer` (so the core re-sends copies). */
function recording(overrides: Partial<Record<keyof Driver, unknown>> = {}) {
  const inner = createMemoryDriver({
    broker: new MemoryBroker(),
    limitCapabilities: { priority: 'emulated' },
  });
  const sent: { queue: string; message: OutgoingMessage }[] = [];
  const tokens: (string | undefined)[] = [];
  const driver: Driver = wrapDriver(inner, {
    send: async (queue: string, messages: readonly OutgoingMessage[]) => {
      for (const message of messages) sent.push({ queue, message });
      return inner.send(queue, messages);
    },
    receive: async (queue: string, options: Parameters<Driver['receive']>[1]) =>
      (await inner.receive(queue, options)).map((delivery): Delivery => {
        tokens.push(delivery.deliveryToken);
        // No atomic ackWith either: the copy goes through send.
        return Object.assign(delivery, { release: undefined, defer: undefined, ackWith: undefined });
      }),
    ...overrides,
  });
  return { driver, sent, tokens };
}

async function retriedTwice(driver: Driver, name: string) {
  const queue = createQueue<null>({ name, driver, ownsDriver: true, maxDelayHop: 20 });
  const attempts: number[] = [];
  await queue.send('flaky', null, { priority: 5, backoff: { type: 'fixed', delay: 10 } });
  queue.process(
    async (job) => {
      attempts.push(job.attempt);
      if (job.attempt === 1) throw new Error('first try fails');
      if (attempts.length === 2) throw new RetryAfterError(500); // re-parked hops follow (500 ms > 20 ms hop)
    },
    { pollInterval: 10 },
  );
  await until(() => attempts.length === 3, 'three runs');
  await queue.close();
  return attempts;
}

describe('copies the core re-sends say which delivery they copy', () => {
  it('a retry copy and a hop copy carry copyOf: the band queue received from, the id, the delivery token', async () => {
    const { driver, sent, tokens } = recording();
    const attempts = await retriedTwice(driver, 'copies');
    expect(attempts).toEqual([1, 2, 2]);
    const [original, ...copies] = sent;
    expect(original?.message.copyOf).toBeUndefined();
    expect(copies.length).toBeGreaterThanOrEqual(3); // the retry, the retry-after, at least one hop
    for (const { queue, message } of copies) {
      expect(queue).toBe('copies-p5');
      expect(message.id).toBe(original?.message.id);
      expect(message.copyOf).toMatchObject({ queue: 'copies-p5', id: original?.message.id });
      expect(tokens).toContain(message.copyOf?.deliveryToken);
    }
  });

  it('a driver declaring contract version 1 gets no copyOf', async () => {
    const { driver, sent } = recording({ apiVersion: 1 });
    await retriedTwice(driver, 'copies-v1');
    expect(sent.length).toBeGreaterThanOrEqual(4);
    for (const { message } of sent) expect(message.copyOf).toBeUndefined();
  });
});
