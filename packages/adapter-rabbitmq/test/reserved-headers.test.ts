import { ConfigError, createQueue, type Job } from '@queuekit/core';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import type { RabbitMqQueueType } from '../src/index.js';
import { Resources, until, url } from './helpers.js';

const resources = new Resources();
afterEach(() => resources.cleanup());

/** Headers a hostile or careless publisher could set to steer the driver's bookkeeping. */
const FORGED = {
  'x-delivery-count': 100,
  'x-qk-delivery-count': '7',
  'x-qk-dead-letter-attempts': '9',
  'x-first-death-reason': 'rejected',
  'x-death': [{ reason: 'expired', count: 5, queue: 'elsewhere' }],
};

describe.each<RabbitMqQueueType>(['classic', 'quorum'])('reserved headers on %s queues', (queueType) => {
  it('declares the header names it interprets, so the core can refuse them on send', async () => {
    const driver = await resources.driver({ queueType });
    expect(driver.reservedHeaders).toEqual(
      expect.arrayContaining([
        'x-delivery-count',
        'x-death',
        'x-first-death-reason',
        'x-qk-dead-letter-attempts',
        'cc',
        'bcc',
      ]),
    );
  });

  it('the core refuses a reserved name in user headers on send, naming the field (any case)', async () => {
    const queue = createQueue({
      name: resources.queue(`refused-${queueType}`),
      driver: await resources.driver({ queueType }),
    });
    for (const header of ['x-delivery-count', 'X-Death', 'CC', 'x-qk-dead-letter-attempts']) {
      const error = await queue.send('x', {}, { headers: { [header]: '5' } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toMatch(/headers/);
    }
    expect((await queue.stats()).waiting).toBe(0);
  });

  it('a forged x-delivery-count from another publisher is not read as a delivery count: the job runs as attempt 1', async () => {
    const name = resources.queue(`forged-${queueType}`);
    const queue = createQueue<{ n: number }>({ name, driver: await resources.driver({ queueType }) });
    await queue.stats(); // declares the queue with the driver's arguments

    const raw = await amqp.connect(url);
    try {
      const channel = await raw.createConfirmChannel();
      channel.sendToQueue(name, Buffer.from('{"n":1}'), {
        persistent: true,
        messageId: 'forged-1',
        contentType: 'application/json',
        headers: { ...FORGED, 'qk-max-attempts': '3' },
      });
      await channel.waitForConfirms();
    } finally {
      await raw.close();
    }

    const jobs: Job<{ n: number }>[] = [];
    const dead: string[] = [];
    queue.on('dead-lettered', (info) => dead.push(info.reason));
    queue.process(async (job) => {
      jobs.push(job);
    });
    await until('the forged job ran', 15_000, () => jobs.length === 1);
    await queue.close();
    expect(dead).toEqual([]);
    expect(jobs[0]).toMatchObject({ id: 'forged-1', attempt: 1, data: { n: 1 } });
    for (const key of Object.keys(FORGED)) expect(jobs[0]?.headers).not.toHaveProperty(key);
  });

  it('reserved names given to the driver directly never reach the broker', async () => {
    const name = resources.queue(`direct-${queueType}`);
    const driver = await resources.driver({ queueType });
    await driver.send(name, [
      {
        id: 'direct-1',
        name: 'n',
        body: new TextEncoder().encode('1'),
        headers: {
          'qk-attempt': '1',
          'x-delivery-count': '100',
          'X-QK-Delivery-Count': '5',
          CC: 'another-queue',
          keep: 'me',
        },
      },
    ]);
    const [delivery] = await driver.receive(name, {
      max: 1,
      waitMs: 5_000,
      lockMs: 1_000,
      signal: new AbortController().signal,
    });
    if (!delivery) throw new Error('nothing received');
    expect(delivery.deliveryCount).toBe(1);
    const sent = (delivery.raw as amqp.Message).properties.headers ?? {};
    expect(Object.keys(sent).sort()).toEqual(['keep', 'qk-attempt']);
    await delivery.ack();
  });
});
