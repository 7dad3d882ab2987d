import { getEventListeners } from 'node:events';
import type { Delivery } from '@queuekit/core';
import { expect } from 'vitest';
import type { DriverHarness } from '../harness.js';
import { it } from '../scope.js';

/** `receive` honours `max`, `waitMs` and its signal. */
export function receiveCases(h: DriverHarness): void {
  /** Long enough that a receive that ignores its signal or a message is plainly seen doing so. */
  const longPollMs = 20_000;

  /** A queue that exists (drivers create queues on first use: one message sent and acked) and is empty. */
  async function emptyQueue() {
    const queue = h.queueName();
    const driver = await h.driver();
    const warmUp = h.message();
    await driver.send(queue, [warmUp]);
    await (await h.receiveIds(driver, queue, [warmUp.id])).byId.get(warmUp.id)?.ack();
    return { queue, driver };
  }

  it('returns at most `max` deliveries per call, and every message once', async () => {
    const queue = h.queueName();
    const driver = await h.driver();
    const messages = Array.from({ length: 5 }, () => h.message());
    for (let i = 0; i < messages.length; i += h.capabilities.maxBatchSize) {
      await driver.send(queue, messages.slice(i, i + h.capabilities.maxBatchSize));
    }
    const sizes: number[] = [];
    const seen = new Map<string, Delivery>();
    const deadline = Date.now() + h.timeout(20_000);
    while (seen.size < messages.length && Date.now() < deadline) {
      const got = await h.receive(driver, queue, { max: 2 });
      sizes.push(got.length);
      for (const delivery of got) {
        expect(seen.has(delivery.id)).toBe(false);
        seen.set(delivery.id, delivery);
        await delivery.ack();
      }
    }
    expect([...seen.keys()].sort()).toEqual(messages.map((m) => m.id).sort());
    expect(sizes.filter((n) => n > 2)).toEqual([]);
    for (const message of [h.message(), h.message()]) await driver.send(queue, [message]);
    const one = await h.receive(driver, queue, { max: 1, waitMs: h.timeout(5000) });
    expect(one.length).toBe(1);
  });

  it('with waitMs 0 on an empty queue, resolves with []', async () => {
    const { queue, driver } = await emptyQueue();
    const started = Date.now();
    expect(await h.receive(driver, queue, { waitMs: 0 })).toEqual([]);
    expect(Date.now() - started).toBeLessThan(h.timeout(longPollMs / 2));
  });

  it('resolves long before waitMs when its signal aborts mid-poll, and when it is already aborted', async () => {
    const { queue, driver } = await emptyQueue();
    const controller = new AbortController();
    const started = Date.now();
    const pending = h.receive(driver, queue, { waitMs: longPollMs, signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    const got = await pending;
    expect(Array.isArray(got)).toBe(true);
    expect(Date.now() - started).toBeLessThan(longPollMs / 2);
    const aborted = AbortSignal.abort();
    const again = Date.now();
    expect(Array.isArray(await h.receive(driver, queue, { waitMs: longPollMs, signal: aborted }))).toBe(true);
    expect(Date.now() - again).toBeLessThan(longPollMs / 2);
  });

  it('twelve long polls on one driver (ten priority bands, and more) give no "possible memory leak" warning', async () => {
    const driver = await h.driver();
    const queues = Array.from({ length: 12 }, () => h.queueName());
    // Each queue made to exist on the broker (one message sent and acked), by this one driver.
    for (const queue of queues) {
      const warmUp = h.message();
      await driver.send(queue, [warmUp]);
      await (await h.receiveIds(driver, queue, [warmUp.id])).byId.get(warmUp.id)?.ack();
    }
    const warnings: string[] = [];
    const onWarning = (warning: Error) => {
      if (warning.name === 'MaxListenersExceededWarning') warnings.push(warning.message);
    };
    process.on('warning', onWarning);
    const stops = queues.map(() => new AbortController());
    try {
      const polls = queues.map((queue, i) =>
        h.receive(driver, queue, { waitMs: longPollMs, signal: (stops[i] as AbortController).signal }),
      );
      // A poll listens to its caller's signal once it waits on the broker: then end them all.
      const deadline = Date.now() + h.timeout(10_000);
      while (stops.some((stop) => getEventListeners(stop.signal, 'abort').length === 0)) {
        if (Date.now() > deadline) break;
        await new Promise((resolve) => setImmediate(resolve));
      }
      for (const stop of stops) stop.abort();
      for (const got of await Promise.all(polls)) for (const delivery of got) await delivery.ack();
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a long poll returns the message sent while it waits', async () => {
    const { queue, driver } = await emptyQueue();
    const message = h.message();
    const sender = await h.driver();
    const started = Date.now();
    const pending = h.receive(driver, queue, { waitMs: longPollMs, max: 1 });
    await sender.send(queue, [message]);
    const got = await pending;
    expect(got.map((d) => d.id)).toEqual([message.id]);
    expect(Date.now() - started).toBeLessThan(longPollMs);
    await got[0]?.ack();
  });
}
