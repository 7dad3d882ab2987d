import { createQueue } from '@queuekit/core';
import amqp from 'amqplib';
import { afterEach, expect, it } from 'vitest';
import { deadLetterQueueName } from '../src/index.js';
import { Resources, until, url } from './helpers.js';

const resources = new Resources();
afterEach(() => resources.cleanup());

it('a non-JSON message published with plain amqplib is dead-lettered as `undecodable`; the worker goes on', async () => {
  const name = resources.queue('poison');
  const driver = await resources.driver();
  const queue = createQueue<{ ok: boolean }>({ name, driver });
  await queue.stats(); // declares the queue (and its dead-letter queue) with the driver's arguments

  const raw = await amqp.connect(url);
  try {
    const channel = await raw.createConfirmChannel();
    channel.sendToQueue(name, Buffer.from([0xff, 0xfe, 0x7b, 0x6e, 0x6f, 0x74]), {
      persistent: true,
      headers: { retries: 3, nested: { a: 1 }, flag: true },
    });
    await channel.waitForConfirms();
  } finally {
    await raw.close();
  }

  const dead: { id: string; reason: string; error?: string }[] = [];
  queue.on('dead-lettered', (info) => dead.push(info));
  const completed: boolean[] = [];
  queue.process(async (job) => {
    completed.push(job.data.ok);
  });
  await until('the poison message dead-lettered', 15_000, () => dead.length === 1);
  expect(dead[0]?.reason).toBe('undecodable');

  await queue.send('fine', { ok: true });
  await until('the next job processed', 15_000, () => completed.length === 1);
  expect(completed).toEqual([true]);

  const [record] = await queue.deadLetters.list();
  expect(record).toMatchObject({ reason: 'undecodable', data: undefined });
  expect(record?.error).toBeTruthy();
  expect(record?.headers).toMatchObject({ retries: '3', nested: '{"a":1}', flag: 'true' });
  expect(Buffer.from(record?.body ?? []).equals(Buffer.from([0xff, 0xfe, 0x7b, 0x6e, 0x6f, 0x74]))).toBe(
    true,
  );

  // On the broker: the copy sits in `<queue>.dead-letter` with the reason and error as headers.
  const check = await amqp.connect(url);
  try {
    const channel = await check.createChannel();
    const message = await channel.get(deadLetterQueueName(name), { noAck: false });
    expect(message).not.toBe(false);
    const headers = message ? message.properties.headers : undefined;
    expect(headers?.['qk-dead-letter-reason']).toBe('undecodable');
    expect(typeof headers?.['qk-dead-letter-error']).toBe('string');
  } finally {
    await check.close();
  }
  await queue.close();
});
