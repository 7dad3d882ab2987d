import { type Delivery, LockLostError, type OutgoingMessage } from '@queuekit/core';
import type { Channel } from 'amqplib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { RabbitMqDriver } from '../src/index.js';
import { ChannelTransaction } from '../src/receiver.js';
import { Resources, until } from './helpers.js';

const resources = new Resources();
afterEach(async () => {
  vi.restoreAllMocks();
  await resources.cleanup();
});

function message(
  id: string,
  extra: Pick<OutgoingMessage, 'delayMs' | 'priority'> & { headers?: Record<string, string> } = {},
): OutgoingMessage {
  return { id, name: 'chain-test', body: new TextEncoder().encode(id), headers: { 'qk-test': id }, ...extra };
}

async function receive(
  driver: RabbitMqDriver,
  queue: string,
  max: number,
  waitMs = 5_000,
): Promise<Delivery[]> {
  return driver.receive(queue, { max, waitMs, lockMs: 1_000, signal: new AbortController().signal });
}

async function receiveAll(driver: RabbitMqDriver, queue: string, count: number): Promise<Delivery[]> {
  const got: Delivery[] = [];
  await until(`${count} deliveries on ${queue}`, 15_000, async () => {
    got.push(...(await receive(driver, queue, count - got.length, 1_000)));
    return got.length >= count;
  });
  return got;
}

/** The channel a transaction commits (private field, read for the test only). */
function channelOf(transaction: ChannelTransaction): Channel {
  return (transaction as unknown as { channel: Channel }).channel;
}

/** amqplib's socket under a channel, destroyed to simulate a crash. */
function socketOf(channel: Channel): { destroy(error: Error): void } {
  return (channel as unknown as { connection: { stream: { destroy(error: Error): void } } }).connection
    .stream;
}

/**
 * Intercept the next commit of a transaction: `before` runs once the broker has processed every frame
 * written so far on the channel (a synchronous RPC on the same channel is answered after them).
 */
function interceptCommit(before: (channel: Channel) => Promise<'commit' | 'crash'>): void {
  const original = ChannelTransaction.prototype.commit;
  let intercepted = false;
  vi.spyOn(ChannelTransaction.prototype, 'commit').mockImplementation(async function (
    this: ChannelTransaction,
  ) {
    if (intercepted) return original.call(this);
    intercepted = true;
    const channel = channelOf(this);
    if ((await before(channel)) === 'crash')
      socketOf(channel).destroy(new Error('simulated crash before the commit'));
    return original.call(this);
  });
}

describe('ackWith (follow-ups and ack in one AMQP transaction)', () => {
  it('publishes follow-ups (priority, headers, delay) only at the commit, together with the ack', async () => {
    const parent = resources.queue('chain-parent');
    const child = resources.queue('chain-child');
    const driver = await resources.driver();
    const observer = await resources.driver();
    await driver.send(parent, [message('p1'), message('p2')]);
    await observer.stats(child);
    const [first, second] = await receiveAll(driver, parent, 2);
    let beforeCommit: { waiting?: number; delayed?: number } | undefined;
    interceptCommit(async (channel) => {
      await channel.checkQueue(child);
      beforeCommit = await observer.stats(child);
      return 'commit';
    });
    await first?.ackWith?.([
      {
        queue: child,
        messages: [
          message('c-now', {
            priority: 3,
            headers: { 'qk-test': 'now', 'content-type': 'application/json' },
          }),
          message('c-later', { delayMs: 300 }),
        ],
      },
    ]);
    expect(beforeCommit).toMatchObject({ waiting: 0, delayed: 0 });
    // A plain ack on the channel now in transaction mode is committed too.
    await second?.ack();
    const children = await receiveAll(observer, child, 2);
    const byId = new Map(children.map((d) => [d.id, d]));
    expect([...byId.keys()].sort()).toEqual(['c-later', 'c-now']);
    expect(byId.get('c-now')?.headers).toMatchObject({
      'qk-test': 'now',
      'content-type': 'application/json',
    });
    expect(byId.get('c-now')?.priority).toBe(3);
    expect(new TextDecoder().decode(byId.get('c-later')?.body)).toBe('c-later');
    for (const d of children) await d.ack();
    // Both parents were acked: after the consumer's channel closes, nothing comes back.
    await driver.close();
    expect((await observer.stats(parent)).waiting).toBe(0);
  });

  it('a crash before the commit leaves neither the follow-ups nor the ack; the parent comes back', async () => {
    const parent = resources.queue('chain-crash-parent');
    const child = resources.queue('chain-crash-child');
    const driver = await resources.driver();
    const observer = await resources.driver();
    await driver.send(parent, [message('p')]);
    await observer.stats(child);
    const [delivery] = await receiveAll(driver, parent, 1);
    interceptCommit(async (channel) => {
      await channel.checkQueue(child);
      return 'crash';
    });
    await expect(
      delivery?.ackWith?.([{ queue: child, messages: [message('c1'), message('c2', { delayMs: 200 })] }]),
    ).rejects.toBeInstanceOf(LockLostError);
    await driver.close();
    const [again] = await receiveAll(observer, parent, 1);
    expect(again?.id).toBe('p');
    expect(again?.deliveryCount).toBe(2);
    expect(await observer.stats(child)).toMatchObject({ waiting: 0, delayed: 0 });
    await again?.ack();
  });

  it('concurrent settles on one transactional channel all commit (none written while a commit is in flight)', async () => {
    const parent = resources.queue('chain-many-parent');
    const child = resources.queue('chain-many-child');
    const driver = await resources.driver();
    const observer = await resources.driver();
    const count = 60;
    await driver.send(
      parent,
      Array.from({ length: count }, (_, i) => message(`p${i}`)),
    );
    await observer.stats(child);
    const deliveries = await receiveAll(driver, parent, count);
    await Promise.all(
      deliveries.map((delivery, i) =>
        i % 2 === 0
          ? delivery.ackWith?.([{ queue: child, messages: [message(`${delivery.id}-next`)] }])
          : delivery.ack(),
      ),
    );
    await until('every follow-up', 15_000, async () => (await observer.stats(child)).waiting === count / 2);
    await driver.close();
    expect((await observer.stats(parent)).waiting).toBe(0);
  });
});
