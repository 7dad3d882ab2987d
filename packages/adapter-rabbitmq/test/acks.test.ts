import net from 'node:net';
import type { Delivery } from '@queuekit/core';
import amqp from 'amqplib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RabbitMqDriver } from '../src/index.js';
import { Resources, url } from './helpers.js';

const resources = new Resources();
afterEach(() => {
  vi.restoreAllMocks();
  return resources.cleanup();
});

const signal = new AbortController().signal;
const utf8 = (text: string) => new TextEncoder().encode(text);
const messages = (count: number, prefix: string) =>
  Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    name: 'n',
    body: utf8(`${i}`),
    headers: {},
  }));

/** Exactly `count` deliveries of `queue`, through `waitMs: 0` (basic.get) for the first `fetched`, then pushed. */
async function take(driver: RabbitMqDriver, queue: string, count: number, fetched = 0): Promise<Delivery[]> {
  const got: Delivery[] = [];
  const deadline = Date.now() + 10_000;
  while (got.length < fetched && Date.now() < deadline)
    got.push(
      ...(await driver.receive(queue, { max: fetched - got.length, waitMs: 0, lockMs: 1_000, signal })),
    );
  while (got.length < count && Date.now() < deadline)
    got.push(
      ...(await driver.receive(queue, { max: count - got.length, waitMs: 1_000, lockMs: 1_000, signal })),
    );
  expect(got.length).toBe(count);
  return got;
}

/** amqplib's `Channel.prototype.ack`, watched (the driver's consumer channels are plain channels). */
let ackSpy: ReturnType<typeof vi.fn>;
beforeEach(async () => {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    ackSpy = vi.spyOn(Object.getPrototypeOf(channel), 'ack') as unknown as ReturnType<typeof vi.fn>;
  } finally {
    await connection.close();
  }
});

/** What is left in `queue` once every channel that held its deliveries is closed (they are requeued). */
async function leftIds(queue: string): Promise<string[]> {
  const driver = await resources.driver();
  const ids: string[] = [];
  for (;;) {
    const got = await driver.receive(queue, { max: 100, waitMs: 0, lockMs: 1_000, signal });
    if (got.length === 0) return ids.sort();
    ids.push(...got.map((delivery) => delivery.id));
    await Promise.all(got.map((delivery) => delivery.ack()));
  }
}

describe('acks', () => {
  it('the acks of one turn leave as one basic.ack with `multiple`, and every message is gone', async () => {
    const queue = resources.queue('acks-one');
    const driver = await resources.driver();
    await driver.send(queue, messages(20, 'one'));
    const deliveries = await take(driver, queue, 20);
    ackSpy.mockClear();
    await Promise.all(deliveries.map((delivery) => delivery.ack()));
    // One frame for 20 jobs (it was 20 frames, one `basic.ack` each).
    expect(ackSpy.mock.calls.map(([message, multiple]) => [message, multiple === true])).toEqual([
      [deliveries[19]?.raw, true],
    ]);
    await driver.close();
    expect(await leftIds(queue)).toEqual([]);
  });

  it('a delivery still held stops the multiple ack: only it comes back (fetched and pushed deliveries alike)', async () => {
    const queue = resources.queue('acks-gap');
    const driver = await resources.driver();
    await driver.send(queue, messages(10, 'gap'));
    // The first 4 by basic.get, the rest pushed to a consumer: one tag order on one channel.
    const deliveries = await take(driver, queue, 10, 4);
    const held = deliveries[2] as Delivery;
    ackSpy.mockClear();
    await Promise.all(deliveries.filter((delivery) => delivery !== held).map((delivery) => delivery.ack()));
    const calls = ackSpy.mock.calls.map(([message, multiple]) => [message, multiple === true]);
    expect(calls[0]).toEqual([deliveries[1]?.raw, true]); // covers the first two
    expect(calls.slice(1)).toEqual(deliveries.slice(3).map((delivery) => [delivery.raw, false]));
    await driver.close(); // the held one is requeued
    expect(await leftIds(queue)).toEqual([held.id]);
  });

  it('acks in reverse order, one turn each, are all accepted and the channel goes on', async () => {
    const queue = resources.queue('acks-reverse');
    const driver = await resources.driver();
    await driver.send(queue, messages(8, 'rev'));
    const deliveries = await take(driver, queue, 8);
    for (const delivery of [...deliveries].reverse()) await delivery.ack();
    // An unknown tag would have closed the channel (PRECONDITION_FAILED): the next delivery would then fail to ack.
    await driver.send(queue, messages(1, 'after'));
    const [next] = await take(driver, queue, 1);
    await next?.ack();
    await driver.close();
    expect(await leftIds(queue)).toEqual([]);
  });
});

describe('socket writes', () => {
  it('the frames of one turn reach the socket together', async () => {
    const queue = resources.queue('writes');
    const driver = await resources.driver();
    await driver.stats(queue); // declared, and the publisher's channel opened, before counting
    await driver.send(queue, messages(1, 'warm'));
    // Every socket write ends in one of the two (writev for several chunks at once).
    const socket = net.Socket.prototype as unknown as Record<
      '_write' | '_writev',
      (...args: unknown[]) => void
    >;
    const write = vi.spyOn(socket, '_write');
    const writev = vi.spyOn(socket, '_writev');
    await driver.send(queue, messages(200, 'w'));
    const writes = write.mock.calls.length + writev.mock.calls.length;
    // 200 publishes were 200 socket writes; corked per turn they are a few.
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThan(40);
    expect((await driver.stats(queue)).waiting).toBe(201);
  });
});
