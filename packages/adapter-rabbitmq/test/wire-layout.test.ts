import { CORE_HEADERS as H, createQueue, type Delivery, type OutgoingMessage } from '@queuekit/core';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import type { RabbitMqDriver, RabbitMqQueueType } from '../src/index.js';
import { Resources, until, url } from './helpers.js';

const resources = new Resources();
afterEach(() => resources.cleanup());

const signal = new AbortController().signal;

/** What the core puts on a job it sends (plus a user header). */
const SENT: Record<string, string> = {
  [H.contentType]: 'application/json',
  [H.name]: 'resize',
  [H.attempt]: '3',
  [H.maxAttempts]: '5',
  [H.enqueuedAt]: '1764625000123',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
};

function message(id: string, headers: Record<string, string> = SENT, name = 'resize'): OutgoingMessage {
  return { id, name, body: new TextEncoder().encode('{"n":1}'), headers };
}

/** Every delivery of `ids` from `queue` (unsettled), by id. */
async function receiveAll(driver: RabbitMqDriver, queue: string, ids: readonly string[]) {
  const byId = new Map<string, Delivery>();
  await until(`deliveries of ${ids.join(', ')}`, 15_000, async () => {
    const deliveries = await driver.receive(queue, { max: 10, waitMs: 200, lockMs: 30_000, signal });
    for (const delivery of deliveries) byId.set(delivery.id, delivery);
    return ids.every((id) => byId.has(id));
  });
  return byId;
}

/** Publish `messages` with plain amqplib (an earlier version of the driver, or another publisher). */
async function publishRaw(queue: string, messages: { content: string; options: amqp.Options.Publish }[]) {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createConfirmChannel();
    for (const { content, options } of messages) channel.sendToQueue(queue, Buffer.from(content), options);
    await channel.waitForConfirms();
  } finally {
    await connection.close();
  }
}

const rawOf = (delivery: Delivery | undefined) => (delivery?.raw ?? { properties: {} }) as amqp.Message;
const rawHeaders = (delivery: Delivery | undefined) =>
  (rawOf(delivery).properties.headers ?? {}) as Record<string, unknown>;

describe.each<RabbitMqQueueType>(['classic', 'quorum'])('wire layout on %s queues', (queueType) => {
  it('leaves qk-name out of the headers table when `type` carries it (app-id says so); receive, dead-letter listing and redrive read it back verbatim', async () => {
    const queue = resources.queue(`layout-${queueType}`);
    const driver = await resources.driver({ queueType });
    const renamed = { ...SENT, [H.name]: 'other-name' };
    await driver.send(queue, [message('same-name'), message('renamed', renamed)]);
    const byId = await receiveAll(driver, queue, ['same-name', 'renamed']);

    const same = byId.get('same-name');
    expect(Object.keys(rawHeaders(same)).sort()).toEqual([
      H.attempt,
      H.enqueuedAt,
      H.maxAttempts,
      'traceparent',
    ]);
    expect(rawOf(same).properties).toMatchObject({ type: 'resize', appId: 'queuekit' });
    expect(same?.headers).toEqual(SENT);
    // A qk-name other than the name stays in the table, and nothing marks the message.
    expect(rawHeaders(byId.get('renamed'))[H.name]).toBe('other-name');
    expect(rawOf(byId.get('renamed')).properties.appId).toBeUndefined();
    expect(byId.get('renamed')?.headers).toEqual(renamed);

    await same?.deadLetter({ reason: 'max-attempts', error: 'boom', attempts: 3 });
    await byId.get('renamed')?.ack();
    const [listed] = await driver.listDeadLetters(queue, 10);
    expect(listed).toMatchObject({ id: 'same-name', name: 'resize', reason: 'max-attempts', attempts: 3 });
    expect(listed?.headers).toEqual(SENT);

    // The core's redrive resets the attempt: the packed entry must not keep the old one.
    expect(
      await driver.redriveDeadLetters(queue, {
        ids: ['same-name'],
        headers: { [H.attempt]: '1', [H.notBefore]: '0' },
      }),
    ).toBe(1);
    const again = (await receiveAll(driver, queue, ['same-name'])).get('same-name');
    expect(again?.headers).toEqual({ ...SENT, [H.attempt]: '1', [H.notBefore]: '0' });
    expect(again?.deliveryCount).toBe(1);
    await again?.ack();
  });

  it('reads messages of the earlier layout (every header apart) exactly as before, through receive, dead letters and redrive', async () => {
    const queue = resources.queue(`old-layout-${queueType}`);
    const driver = await resources.driver({ queueType });
    await driver.stats(queue); // declares the queue with the driver's arguments
    const { [H.contentType]: _, ...apart } = SENT;
    await publishRaw(queue, [
      {
        content: '{"n":1}',
        options: {
          persistent: true,
          messageId: 'old-1',
          type: 'resize',
          timestamp: 1_764_625_000,
          contentType: 'application/json',
          headers: apart,
        },
      },
    ]);
    const old = (await receiveAll(driver, queue, ['old-1'])).get('old-1');
    expect(old?.headers).toEqual(SENT);
    expect(old?.name).toBe('resize');
    expect(old?.enqueuedAt?.getTime()).toBe(1_764_625_000_000);
    await old?.deadLetter({ reason: 'invalid-payload' });
    const [listed] = await driver.listDeadLetters(queue, 10);
    expect(listed?.headers).toEqual(SENT);
    await driver.redriveDeadLetters(queue, { ids: ['old-1'], headers: { [H.attempt]: '1' } });
    const again = (await receiveAll(driver, queue, ['old-1'])).get('old-1');
    expect(again?.headers).toEqual({ ...SENT, [H.attempt]: '1' });
    expect(Object.keys(rawHeaders(again))).toContain(H.name);
    await again?.ack();
  });

  it('a forged type, timestamp or app-id neither crashes the consumer nor miscounts an attempt', async () => {
    const [direct, name] = [
      resources.queue(`forged-direct-${queueType}`),
      resources.queue(`forged-${queueType}`),
    ];
    const driver = await resources.driver({ queueType });
    for (const queue of [direct, name]) await driver.stats(queue);
    const marked = { appId: 'queuekit' };
    const forged: [id: string, options: amqp.Options.Publish, firstAttempt: number][] = [
      ['no-type', { ...marked, headers: { 'qk-attempt': '1' } }, 1],
      ['typed', { ...marked, type: 'forged-type', headers: { 'qk-attempt': '2' } }, 2],
      ['both', { ...marked, type: 'a', headers: { 'qk-name': 'b' } }, 1],
      ['long-type', { ...marked, type: 'x'.repeat(255), timestamp: 2 ** 40 }, 1],
      ['empty', { ...marked, type: '', timestamp: 0, headers: { 'qk-attempt': 'abc' } }, 1],
      ['other-app', { appId: 'other', type: 't', headers: { 'qk-attempt': '1' } }, 1],
    ];
    const messages = forged.map(([id, options]) => ({
      content: '{"n":1}',
      options: { persistent: true, messageId: id, contentType: 'application/json', ...options },
    }));
    for (const queue of [direct, name]) await publishRaw(queue, messages);

    // Driver level: what each reads as.
    const byId = await receiveAll(
      driver,
      direct,
      forged.map(([id]) => id),
    );
    const headersOf = (id: string) => byId.get(id)?.headers;
    expect(headersOf('no-type')).toEqual({ 'qk-attempt': '1', 'content-type': 'application/json' });
    expect(headersOf('typed')).toMatchObject({ 'qk-attempt': '2', 'qk-name': 'forged-type' });
    expect(headersOf('both')).toMatchObject({ 'qk-name': 'b' });
    expect(headersOf('long-type')?.['qk-name']).toBe('x'.repeat(255));
    expect(headersOf('empty')).not.toHaveProperty('qk-name');
    expect(byId.get('empty')?.name).toBeUndefined();
    expect(byId.get('empty')?.enqueuedAt).toBeUndefined();
    expect(headersOf('other-app')).not.toHaveProperty('qk-name');
    for (const delivery of byId.values()) await delivery.ack();

    // Through the core: each fails once and is retried as the next attempt, none dead-lettered.
    const queue = createQueue<{ n: number }>({
      name,
      driver: await resources.driver({ queueType }),
      defaults: { backoff: { type: 'fixed', delay: 20 } },
    });
    const runs = new Map<string, number[]>();
    const dead: string[] = [];
    queue.on('dead-lettered', (info) => dead.push(info.id));
    queue.process(async (job) => {
      const seen = runs.get(job.id) ?? [];
      runs.set(job.id, [...seen, job.attempt]);
      if (seen.length === 0) throw new Error('first run fails');
    });
    await until('every forged job ran twice', 30_000, () =>
      forged.every(([id]) => (runs.get(id)?.length ?? 0) >= 2),
    );
    await queue.close();
    expect(dead).toEqual([]);
    for (const [id, , first] of forged) expect([id, runs.get(id)]).toEqual([id, [first, first + 1]]);
  });
});
