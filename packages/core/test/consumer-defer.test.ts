import { describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue, type Delivery, type Driver, MemoryBroker } from '../src/index.js';
import { until } from './helpers.js';
import { wrapDriver } from './wrap.js';

/** A memory driver that counts messages sent (copies included) and deferrals, optionally without `defer` on deliveries. */
function counting(withDefer: boolean) {
  const inner = createMemoryDriver({ broker: new MemoryBroker() });
  const counts = { sent: 0, deferred: 0 };
  const driver: Driver = wrapDriver(inner, {
    send: async (queue: string, messages: Parameters<Driver['send']>[1]) => {
      counts.sent += messages.length;
      return inner.send(queue, messages);
    },
    receive: async (queue: string, options: Parameters<Driver['receive']>[1]) =>
      (await inner.receive(queue, options)).map((delivery): Delivery => {
        const defer = delivery.defer?.bind(delivery);
        const ackWith = delivery.ackWith?.bind(delivery);
        return Object.assign(delivery, {
          // Copies sent atomically with the ack count as sent too.
          ...(ackWith
            ? {
                ackWith: async (...args: Parameters<NonNullable<Delivery['ackWith']>>) => {
                  for (const { messages } of args[0]) counts.sent += messages.length;
                  return ackWith(...args);
                },
              }
            : {}),
          defer:
            withDefer && defer
              ? async (ms: number) => {
                  counts.deferred++;
                  return defer(ms);
                }
              : undefined,
        });
      }),
  });
  return { driver, counts };
}

async function delayedRun(withDefer: boolean) {
  const { driver, counts } = counting(withDefer);
  // Hops of 40 ms: a 200 ms delay arrives early several times.
  const queue = createQueue<null>({ name: `defer-${withDefer}`, driver, ownsDriver: true, maxDelayHop: 40 });
  const ran: { attempt: number; at: number }[] = [];
  const sentAt = Date.now();
  await queue.send('later', null, { delay: 200 });
  queue.process(async (job) => {
    ran.push({ attempt: job.attempt, at: Date.now() });
  });
  await until(() => ran.length === 1, 'the delayed job');
  await queue.close();
  return { counts, ran, sentAt };
}

describe('a delayed job that arrives before its time', () => {
  it('is deferred by the driver where it can (no copy sent, no attempt used), never run early', async () => {
    const { counts, ran, sentAt } = await delayedRun(true);
    expect(counts.deferred).toBeGreaterThanOrEqual(2);
    expect(counts.sent).toBe(1); // only the original send
    expect(ran).toHaveLength(1);
    expect(ran[0]?.attempt).toBe(1);
    expect((ran[0]?.at ?? 0) - sentAt).toBeGreaterThanOrEqual(195);
  });

  it('is re-parked as a copy where the driver cannot defer', async () => {
    const { counts, ran, sentAt } = await delayedRun(false);
    expect(counts.deferred).toBe(0);
    expect(counts.sent).toBeGreaterThanOrEqual(3);
    expect(ran[0]?.attempt).toBe(1);
    expect((ran[0]?.at ?? 0) - sentAt).toBeGreaterThanOrEqual(195);
  });
});
