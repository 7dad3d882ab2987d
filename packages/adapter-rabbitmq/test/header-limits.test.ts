import { ConfigError, createQueue, UnrecoverableError } from '@queuekit/core';
import amqp from 'amqplib';
import { afterEach, describe, expect, it } from 'vitest';
import { Resources, until, url } from './helpers.js';

const resources = new Resources();
afterEach(() => resources.cleanup());

// amqplib encodes a message's headers table in one 64 KiB buffer and each name as a short string (255 bytes at
// most). Before, a larger table or a longer name threw amqplib's RangeError in the middle of a batch: an untyped
// DriverError, after the batch's earlier messages had already been published (re-sending duplicated them).
describe('headers amqplib cannot encode', () => {
  it('are a ConfigError naming the header, before anything of the batch is published', async () => {
    const driver = await resources.driver();
    const name = resources.queue('header-limits');
    const queue = createQueue<{ n: number }>({ name, driver });
    const tooLong = 'k'.repeat(256);
    const cases: [Record<string, string>, string][] = [
      [{ big: 'x'.repeat(70_000) }, 'headers'],
      [{ wide: 'é'.repeat(33_000) }, 'headers'], // 66,000 bytes in UTF-8
      [{ [tooLong]: 'v' }, `headers.${tooLong}`],
    ];
    for (const [headers, field] of cases) {
      const batch = [
        { name: 'ok', data: { n: 1 } },
        { name: 'bad', data: { n: 2 }, options: { headers } },
        { name: 'ok', data: { n: 3 } },
      ];
      const error = await queue.sendBatch(batch).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe(field);
    }
    // Nothing of the three batches went out; a table just under the limit does.
    expect((await driver.stats(name)).waiting).toBe(0);
    await queue.send('fits', { n: 4 }, { headers: { big: 'x'.repeat(60_000) } });
    expect((await driver.stats(name)).waiting).toBe(1);
    await queue.close();
  });

  it('a foreign message whose headers leave no room for the dead-letter headers is still dead-lettered', async () => {
    // Before, its dead-letter copy threw amqplib's RangeError: the delivery stayed held by the consumer, never
    // dead-lettered, and came back (to fail the same way) once the consumer closed.
    const driver = await resources.driver();
    const name = resources.queue('header-limits-dl');
    const queue = createQueue<{ n: number }>({ name, driver });
    const errors: unknown[] = [];
    queue.on('error', (error) => errors.push(error));
    const reasons: string[] = [];
    queue.on('dead-lettered', (info) => reasons.push(info.reason));
    queue.process(async () => {
      throw new UnrecoverableError('E'.repeat(3000));
    });
    await driver.stats(name); // the queue exists
    const raw = await amqp.connect(url);
    try {
      const channel = await raw.createConfirmChannel();
      const headers = { 'qk-name': 'foreign', big: 'x'.repeat(65_300) };
      channel.sendToQueue(name, Buffer.from('{"n":1}'), { headers, contentType: 'application/json' });
      await channel.waitForConfirms();
    } finally {
      await raw.close();
    }
    await until('the dead letter', 15_000, () => reasons.length > 0);
    const [record] = await queue.deadLetters.list();
    expect(record).toMatchObject({ reason: 'unrecoverable', name: 'foreign', data: { n: 1 } });
    expect(errors).toEqual([]);
    await queue.close();
    expect((await driver.stats(name)).waiting).toBe(0);
  });
});
