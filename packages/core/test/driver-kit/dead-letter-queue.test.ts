import { describe, expect, it } from 'vitest';
import type { Driver } from '../../src/driver.js';
import { DEAD_LETTER_HEADERS, deadLetterQueueOps } from '../../src/driver-kit/index.js';
import { createMemoryDriver, MemoryBroker } from '../../src/index.js';

const hook = { queueOf: (queue: string) => `${queue}-dlq` };
const receiveOptions = { max: 10, waitMs: 0, lockMs: 5_000, signal: new AbortController().signal };
const message = (id: string) => ({
  id,
  name: 'job',
  body: new TextEncoder().encode(id),
  headers: { 'qk-attempt': '3', tenant: 'a' },
});

/** A memory driver used as an ordinary-queue broker; `withoutPeek` makes listing scan by receiving. */
async function setup(withoutPeek = false) {
  const memory = createMemoryDriver({ broker: new MemoryBroker() });
  const transport: Driver = withoutPeek
    ? Object.assign(Object.create(memory) as Driver, { peek: undefined })
    : memory;
  const ops = deadLetterQueueOps(transport, hook);
  await memory.send('q', [message('a'), message('b'), message('c')]);
  for (const delivery of await memory.receive('q', receiveOptions)) {
    await ops.send('q', delivery, { reason: 'max-attempts', error: `boom ${delivery.id}`, attempts: 3 });
    await delivery.ack();
  }
  return { memory, ops };
}

describe('deadLetterQueueOps', () => {
  it.each([
    ['peeking', false],
    ['scanning', true],
  ])(
    'lists dead letters with their info and headers as sent, without consuming them (%s)',
    async (_, scan) => {
      const { memory, ops } = await setup(scan);
      const listed = await ops.list('q', 10);
      expect(listed.map((m) => m.id)).toEqual(['a', 'b', 'c']);
      expect(listed[0]).toMatchObject({ reason: 'max-attempts', error: 'boom a', attempts: 3, name: 'job' });
      expect(listed[0]?.deadLetteredAt).toBeInstanceOf(Date);
      expect(listed[0]?.headers).toEqual({ 'qk-attempt': '3', tenant: 'a' });
      expect(new TextDecoder().decode(listed[0]?.body)).toBe('a');
      expect((await ops.list('q', 2)).map((m) => m.id)).toEqual(['a', 'b']);
      // Still all there, and a scan counted no delivery (they come back with deliveryCount 1).
      const again = await memory.receive('q-dlq', receiveOptions);
      expect(again.map((d) => [d.id, d.deliveryCount])).toEqual([
        ['a', 1],
        ['b', 1],
        ['c', 1],
      ]);
      await memory.close();
    },
  );

  it('lists a dead letter whose forged dead-lettered-at is past the last Date without an Invalid Date', async () => {
    const memory = createMemoryDriver({ broker: new MemoryBroker() });
    const ops = deadLetterQueueOps(memory, hook);
    const forged = { ...message('x'), headers: { [DEAD_LETTER_HEADERS.at]: String(2 ** 53 - 1) } };
    await memory.send('q-dlq', [forged]);
    const [listed] = await ops.list('q', 10);
    expect(listed?.id).toBe('x');
    expect(listed?.deadLetteredAt).toBeUndefined();
    await memory.close();
  });

  it('redrives the chosen ids with the given headers and without the dead-letter headers', async () => {
    const { memory, ops } = await setup(true);
    expect(await ops.redrive('q', { ids: ['b'], headers: { 'qk-attempt': '1' } })).toBe(1);
    const [back, ...rest] = await memory.receive('q', receiveOptions);
    expect(rest).toEqual([]);
    expect(back?.id).toBe('b');
    expect(back?.headers).toEqual({ 'qk-attempt': '1', tenant: 'a' });
    expect(
      Object.keys(back?.headers ?? {}).some((k) => Object.values(DEAD_LETTER_HEADERS).includes(k as never)),
    ).toBe(false);
    expect((await ops.list('q', 10)).map((m) => m.id)).toEqual(['a', 'c']);
    expect(await ops.redrive('q', { headers: { 'qk-attempt': '1' } })).toBe(2);
    expect(await ops.list('q', 10)).toEqual([]);
    await memory.close();
  });

  it('redrive moves each job id once per call, even when a moved job is dead-lettered again meanwhile', async () => {
    const { memory, ops } = await setup(true);
    // A consumer that dead-letters every redriven job at once (20 times at most, so that a kit moving them
    // again ends): the scan sees the copies come back.
    const send = memory.send.bind(memory);
    let bounces = 0;
    const pingPong = Object.assign(Object.create(memory) as Driver, {
      peek: undefined,
      send: async (queue: string, messages: Parameters<Driver['send']>[1]) => {
        await send(queue, messages);
        if (queue === 'q' && bounces++ < 20)
          for (const delivery of await memory.receive('q', receiveOptions)) {
            await ops.send('q', delivery, { reason: 'max-attempts' });
            await delivery.ack();
          }
      },
    });
    const bouncing = deadLetterQueueOps(pingPong, hook);
    expect(await bouncing.redrive('q', { headers: { 'qk-attempt': '1' } })).toBe(3);
    expect((await ops.list('q', 10)).map((m) => m.id).sort()).toEqual(['a', 'b', 'c']);
    await memory.close();
  });

  it('purges every dead letter and counts them', async () => {
    const { memory, ops } = await setup();
    expect(await ops.purge('q')).toBe(3);
    expect(await ops.list('q', 10)).toEqual([]);
    expect(await memory.receive('q', receiveOptions)).toEqual([]);
    await memory.close();
  });
});
