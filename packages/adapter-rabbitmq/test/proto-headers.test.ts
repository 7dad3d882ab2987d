import { createQueue, type Job, UnrecoverableError } from '@queuekit/core';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { deadLetterQueueName, type RabbitMqQueueType } from '../src/index.js';
import { Resources, until, url } from './helpers.js';

const resources = new Resources();
afterEach(() => resources.cleanup());

/**
 * What another publisher put in the `__proto__` header (a table). amqplib decodes a header table by assignment,
 * so on receive this table becomes the prototype of the headers object: read naively, its keys look like headers
 * (a forged `qk-attempt` of 9 with `qk-max-attempts` 3 dead-letters the job before it ever runs).
 */
const PROTO_TABLE = {
  'qk-attempt': '9',
  'qk-dead-letter-reason': 'forged',
  'x-delivery-count': 40,
  'x-qk-dead-letter-attempts': '7',
  inherited: 'yes',
};
/** Headers that shadow Object.prototype's members, and a plain one. */
const SHADOWING = { constructor: 'c', toString: 't', hasOwnProperty: 'h', keep: 'me' };

/** A computed key is an own property (an object literal's plain `__proto__:` would set the prototype). */
const HOSTILE = { ['__proto__']: PROTO_TABLE, ...SHADOWING, 'qk-max-attempts': '3' };

async function publishHostile(queue: string, id: string): Promise<void> {
  expect(Object.hasOwn(HOSTILE, '__proto__')).toBe(true); // the test sends what it means to
  const raw = await amqp.connect(url);
  try {
    const channel = await raw.createConfirmChannel();
    channel.sendToQueue(queue, Buffer.from('{"n":1}'), {
      persistent: true,
      messageId: id,
      contentType: 'application/json',
      headers: HOSTILE,
    });
    await channel.waitForConfirms();
  } finally {
    await raw.close();
  }
}

/** A job's headers as own data (a copy, so later runs cannot change what was seen). */
function ownHeaders(job: Job<unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(job.headers)) out[key] = job.headers[key];
  return out;
}

describe.each<RabbitMqQueueType>(['classic', 'quorum'])(
  'a foreign `__proto__` header on %s queues',
  (queueType) => {
    it('is read as a header, not a prototype: the job runs from attempt 1, once per attempt, shadowing headers kept', async () => {
      const name = resources.queue(`proto-${queueType}`);
      const driver = await resources.driver({ queueType });

      // Driver level: the table is the `__proto__` header's value (JSON, like any table), none of its keys a header.
      await driver.stats(name); // declares the queue with the driver's arguments
      await publishHostile(name, 'direct-1');
      const [delivery] = await driver.receive(name, {
        max: 1,
        waitMs: 5_000,
        lockMs: 1_000,
        signal: new AbortController().signal,
      });
      if (!delivery) throw new Error('nothing received');
      expect(delivery.deliveryCount).toBe(1);
      expect(Object.getOwnPropertyDescriptor(delivery.headers, '__proto__')?.value).toBe(
        JSON.stringify(PROTO_TABLE),
      );
      for (const key of Object.keys(PROTO_TABLE)) expect(key in delivery.headers).toBe(false);
      expect(delivery.headers).toMatchObject({ ...SHADOWING, 'qk-max-attempts': '3' });
      await delivery.ack();

      // Through the core: it fails once and is retried as attempt 2; never dead-lettered.
      const queue = createQueue<{ n: number }>({
        name,
        driver: await resources.driver({ queueType }),
        defaults: { backoff: { type: 'fixed', delay: 20 } },
      });
      await publishHostile(name, 'proto-1');
      const runs: { id: string; attempt: number; maxAttempts: number; headers: Record<string, unknown> }[] =
        [];
      const dead: string[] = [];
      queue.on('dead-lettered', (info) => dead.push(`${info.id}: ${info.reason}`));
      queue.process(async (job) => {
        runs.push({
          id: job.id,
          attempt: job.attempt,
          maxAttempts: job.maxAttempts,
          headers: ownHeaders(job),
        });
        if (job.id === 'proto-1' && job.attempt === 1) throw new Error('first run fails');
      });
      await until('the hostile job ran twice', 20_000, () => runs.length >= 2 || dead.length > 0);
      await queue.send('sentinel', { n: 2 });
      await until('the sentinel', 20_000, () => runs.some((run) => run.id !== 'proto-1'));
      await queue.close();

      expect(dead).toEqual([]);
      const hostile = runs.filter((run) => run.id === 'proto-1');
      expect(hostile.map(({ attempt, maxAttempts }) => [attempt, maxAttempts])).toEqual([
        [1, 3],
        [2, 3],
      ]);
      const [first, second] = hostile;
      expect(first?.headers).toEqual({ ...SHADOWING, ['__proto__']: JSON.stringify(PROTO_TABLE) });
      // The retry is a copy published through `publishOptions`: the string `__proto__` is not sent (amqplib
      // would drop it on receive anyway); the other headers travel verbatim.
      expect(second?.headers).toEqual(SHADOWING);
      expect(({} as Record<string, unknown>).inherited).toBeUndefined();
    });

    it('dead-letter listing reads the same headers; the dead-letter copy and its redrive keep the table as sent', async () => {
      const name = resources.queue(`proto-dlq-${queueType}`);
      const queue = createQueue<{ n: number }>({ name, driver: await resources.driver({ queueType }) });
      await queue.stats();
      await publishHostile(name, 'proto-2');
      const runs: { attempt: number; headers: Record<string, unknown> }[] = [];
      const dead: string[] = [];
      queue.on('dead-lettered', (info) => dead.push(info.reason));
      queue.process(async (job) => {
        runs.push({ attempt: job.attempt, headers: ownHeaders(job) });
        if (runs.length === 1) throw new UnrecoverableError('no');
      });
      await until('the job dead-lettered', 20_000, () => dead.length === 1);
      expect(dead).toEqual(['unrecoverable']);

      const [record, ...more] = await queue.deadLetters.list();
      expect(more).toEqual([]);
      expect(record).toMatchObject({ id: 'proto-2', reason: 'unrecoverable', attempts: 1, error: 'no' });
      expect({ ...record?.headers }).toEqual({ ...SHADOWING, ['__proto__']: JSON.stringify(PROTO_TABLE) });

      // On the broker: the dead-letter copy carries the `__proto__` table as it came (amqplib makes it the prototype).
      const check = await amqp.connect(url);
      try {
        const channel = await check.createChannel();
        const message = await channel.get(deadLetterQueueName(name), { noAck: false });
        if (!message) throw new Error('no dead letter on the broker');
        const headers = message.properties.headers as Record<string, unknown>;
        expect({ ...Object.getPrototypeOf(headers) }).toEqual(PROTO_TABLE);
        expect(headers['qk-dead-letter-reason']).toBe('unrecoverable');
        expect(headers['x-qk-dead-letter-attempts']).toBe('1');
      } finally {
        await check.close();
      }

      expect(await queue.deadLetters.redrive()).toBe(1);
      await until('the redriven job ran', 20_000, () => runs.length === 2);
      await queue.close();
      expect(runs.map((run) => run.attempt)).toEqual([1, 1]);
      expect(runs[1]?.headers).toEqual({ ...SHADOWING, ['__proto__']: JSON.stringify(PROTO_TABLE) });
      expect(dead).toEqual(['unrecoverable']);
    });
  },
);
