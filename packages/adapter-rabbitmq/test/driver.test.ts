import { ConfigError, type OutgoingMessage } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createDriver, RabbitMqDriver } from '../src/index.js';
import { Resources, until } from './helpers.js';

const resources = new Resources();
afterEach(() => resources.cleanup());

function message(id: string, extra: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    id,
    name: 'n',
    body: new TextEncoder().encode(`"${id}"`),
    headers: { 'qk-attempt': '1' },
    ...extra,
  };
}

function receiveOnce(driver: RabbitMqDriver, queue: string, max: number, waitMs = 2_000) {
  return driver.receive(queue, { max, waitMs, lockMs: 1_000, signal: new AbortController().signal });
}

describe('options', () => {
  it('refuses bad options with a ConfigError naming the field, never echoing the URL', async () => {
    expect(() => new RabbitMqDriver({ url: 'http://x' })).toThrow(ConfigError);
    expect(() => new RabbitMqDriver({ url: 'amqp://h', queueType: 'stream' as 'quorum' })).toThrow(
      /queueType/,
    );
    expect(() => new RabbitMqDriver({ url: 'amqp://h', delayBucketsMs: [1000, 500] })).toThrow(
      /delayBucketsMs\[1\]/,
    );
    expect(() => new RabbitMqDriver({ url: 'amqp://h', deliveryLimit: 0 })).toThrow(/deliveryLimit/);
    const error = await Promise.resolve(createDriver({ url: 'amqp://user:hunter22@[bad' })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).not.toContain('hunter22');
  });

  it('declares its capabilities from the queue type', () => {
    const classic = new RabbitMqDriver({ url: 'amqp://h' });
    const quorum = new RabbitMqDriver({
      url: 'amqp://h',
      queueType: 'quorum',
      delayBucketsMs: [100, 60_000],
    });
    expect(classic.capabilities).toMatchObject({
      priority: 'native',
      redelivery: 'connection',
      deliveryCount: 'flag',
      maxDelayMs: 14_400_000,
    });
    expect(quorum.capabilities).toMatchObject({
      priority: 'emulated',
      deliveryCount: 'exact',
      maxDelayMs: 60_000,
    });
  });
});

describe('transport', () => {
  it('receive returns at most `max`, and the prefetch keeps the rest available to other consumers', async () => {
    const queue = resources.queue('max');
    const a = await resources.driver();
    const b = await resources.driver();
    await a.send(
      queue,
      Array.from({ length: 10 }, (_, i) => message(`m${i}`)),
    );
    const first = await receiveOnce(a, queue, 3);
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThanOrEqual(3);
    // `a` holds at most 3 unacked; `b` gets the other 7.
    const seenByB = new Set<string>();
    await until('b to take the other 7', 10_000, async () => {
      for (const delivery of await receiveOnce(b, queue, 10, 200)) {
        seenByB.add(delivery.id);
        await delivery.ack();
      }
      return seenByB.size === 7;
    });
    for (const delivery of first) expect(seenByB.has(delivery.id)).toBe(false);
  });

  it('buffered messages a stopped consumer never took go back to the queue unflagged', async () => {
    const queue = resources.queue('idle');
    const a = await resources.driver();
    const b = await resources.driver();
    await a.send(
      queue,
      Array.from({ length: 4 }, (_, i) => message(`m${i}`)),
    );
    const taken = await receiveOnce(a, queue, 1).then((d) => d[0]);
    expect(taken).toBeDefined();
    await taken?.ack();
    // `a` stops pulling; whatever RabbitMQ pushed to it meanwhile is given back after its idle timeout.
    const seen: { id: string; deliveryCount: number }[] = [];
    await until('b to get the 3 others', 15_000, async () => {
      for (const delivery of await receiveOnce(b, queue, 4, 200)) {
        seen.push({ id: delivery.id, deliveryCount: delivery.deliveryCount });
        await delivery.ack();
      }
      return seen.length === 3;
    });
    expect(seen.every((s) => s.deliveryCount === 1)).toBe(true);
  });

  it('settling twice, or after the connection is gone, is a LockLostError', async () => {
    const queue = resources.queue('lock');
    const a = await resources.driver();
    await a.send(queue, [message('x'), message('y')]);
    const deliveries = await until('2 deliveries', 5_000, async () => {
      const got = await receiveOnce(a, queue, 2);
      return got.length === 2 ? got : undefined;
    });
    const [x, y] = deliveries;
    await x?.ack();
    await expect(x?.ack()).rejects.toMatchObject({ code: 'ERR_LOCK_LOST' });
    await a.close();
    await expect(y?.ack()).rejects.toMatchObject({ code: 'ERR_LOCK_LOST' });
  });

  it('a delayed message waits in its bucket wait queue and is never delivered early', async () => {
    const queue = resources.queue('delay');
    const driver = await resources.driver({ delayBucketsMs: [500, 5_000] });
    const sentAt = Date.now();
    await driver.send(queue, [message('late', { delayMs: 1_200 })]);
    expect(await driver.stats(queue)).toMatchObject({ waiting: 0, delayed: 1 });
    const [delivery] = await until('the delayed message', 10_000, () =>
      receiveOnce(driver, queue, 1, 500).then((d) => (d.length ? d : undefined)),
    );
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1_200);
    expect(delivery?.id).toBe('late');
    expect(delivery?.headers).toEqual({ 'qk-attempt': '1' });
    await delivery?.ack();
  });

  it('quorum queues report the exact delivery count (x-delivery-count)', async () => {
    const queue = resources.queue('quorum');
    const sender = await resources.driver({ queueType: 'quorum' });
    await sender.send(queue, [message('q')]);
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const worker = await resources.driver({ queueType: 'quorum' });
      const [delivery] = await until('a delivery', 5_000, () =>
        receiveOnce(worker, queue, 1).then((d) => (d.length ? d : undefined)),
      );
      counts.push(delivery?.deliveryCount ?? 0);
      await worker.close(); // unsettled: the broker redelivers it
    }
    expect(counts).toEqual([1, 2, 3]);
  });
});
