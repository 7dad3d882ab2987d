import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  createMemoryDriver,
  createQueue,
  type Driver,
  MemoryBroker,
  type OutgoingMessage,
  PartialSendError,
} from '../src/index.js';
import { chunksInFlight } from '../src/producer/chunks.js';
import { wrapDriver } from './wrap.js';

/**
 * A memory driver taking 10 messages a call whose earlier calls take longer to be accepted (so
 * parallel chunks overtake each other), recording what it accepted in order and the sends in flight.
 */
function slowFirstDriver(options: { failCall?: number; failCalls?: number[] } = {}) {
  const inner = createMemoryDriver({ broker: new MemoryBroker(), limitCapabilities: { maxBatchSize: 10 } });
  const accepted: OutgoingMessage[] = [];
  let calls = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const driver: Driver = wrapDriver(inner, {
    send: async (queue: string, messages: readonly OutgoingMessage[]) => {
      const call = ++calls;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        for (let i = 0; i < Math.max(1, 40 - call); i++) await tick();
        if (call === options.failCall || options.failCalls?.includes(call))
          throw new Error(`send ${call} refused`);
        accepted.push(...messages);
        await inner.send(queue, messages);
      } finally {
        inFlight--;
      }
    },
  });
  return { driver, inner, accepted, maxInFlight: () => maxInFlight };
}

type Keyed = { key: string; seq: number };
const seqOf = (accepted: readonly OutgoingMessage[], key: string) =>
  accepted
    .filter((m) => m.orderingKey === key)
    .map((m) => (JSON.parse(new TextDecoder().decode(m.body)) as Keyed).seq);

describe('batched sends', () => {
  it('sendBatch beyond maxBatchSize keeps the order of each ordering key', async () => {
    const { driver, inner, accepted } = slowFirstDriver();
    const queue = createQueue<Keyed>({ name: 'ordered-batch', driver });
    const entries = Array.from({ length: 60 }, (_, i) => ({
      name: 'o',
      data: { key: i % 2 ? 'b' : 'a', seq: i >> 1 },
      options: { orderingKey: i % 2 ? 'b' : 'a' },
    }));
    await queue.sendBatch(entries);
    const expected = Array.from({ length: 30 }, (_, i) => i);
    expect(seqOf(accepted, 'a')).toEqual(expected);
    expect(seqOf(accepted, 'b')).toEqual(expected);
    await queue.close();
    await inner.close();
  });

  it('coalesced sends of one key, in several turns of the event loop, keep the call order', async () => {
    const { driver, inner, accepted } = slowFirstDriver();
    const queue = createQueue<Keyed>({ name: 'ordered-send', driver });
    const sends: Promise<string>[] = [];
    for (let seq = 0; seq < 45; seq++) {
      sends.push(queue.send('o', { key: 'a', seq }, { orderingKey: 'a' }));
      if (seq % 15 === 14) await tick(); // a new coalesced flush while the previous one is still sending
    }
    await Promise.all(sends);
    expect(seqOf(accepted, 'a')).toEqual(Array.from({ length: 45 }, (_, i) => i));
    await queue.close();
    await inner.close();
  });

  it('a large sendBatch keeps at most 1,000 messages in flight: 100 sends of 10 on a 10-message driver', async () => {
    const { driver, inner, accepted, maxInFlight } = slowFirstDriver();
    const queue = createQueue<number>({ name: 'bounded', driver, results: false });
    const ids = await queue.sendBatch(Array.from({ length: 3_000 }, (_, i) => ({ name: 'n', data: i })));
    expect(ids).toHaveLength(3_000);
    expect(accepted).toHaveLength(3_000);
    // More than the floor of 8 (small batches would otherwise cost one round-trip wave per 80 messages).
    expect(maxInFlight()).toBeGreaterThan(8);
    expect(maxInFlight()).toBeLessThanOrEqual(100);
    await queue.close();
    await inner.close();
  });

  it('keeps 8 to 100 sends in flight, whatever the driver batches', () => {
    expect(chunksInFlight(1_000)).toBe(8);
    expect(chunksInFlight(100)).toBe(10);
    expect(chunksInFlight(10)).toBe(100);
    expect(chunksInFlight(1)).toBe(100);
  });

  it('a partly failed sendBatch throws PartialSendError with the ids sent and not sent', async () => {
    const { driver, inner, accepted } = slowFirstDriver({ failCall: 3 });
    const queue = createQueue<number>({ name: 'partial', driver });
    const error = await queue
      .sendBatch(Array.from({ length: 200 }, (_, i) => ({ name: 'n', data: i })))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PartialSendError);
    const { sent, unsent, code } = error as PartialSendError;
    expect(code).toBe('ERR_PARTIAL_SEND');
    expect(sent.length + unsent.length).toBe(200);
    expect(unsent.length).toBeGreaterThanOrEqual(10);
    expect(new Set(sent)).toEqual(new Set(accepted.map((m) => m.id)));
    expect((await queue.stats()).waiting).toBe(sent.length);
    // Job records follow what the broker holds: the sent ones are waiting, the others unknown.
    expect((await queue.getJob(sent[0] as string))?.state).toBe('waiting');
    expect(await queue.getJob(unsent[0] as string)).toBeUndefined();
    await queue.close();
    await inner.close();
  });

  it('a sendBatch that fails before anything is accepted throws the send error itself', async () => {
    const { driver, inner } = slowFirstDriver({ failCalls: [1, 2] });
    const queue = createQueue<number>({ name: 'none-sent', driver });
    await expect(queue.sendBatch([{ name: 'n', data: 1, options: { jobId: 'kept' } }])).rejects.toThrow(
      'send 1 refused',
    );
    const single = queue.send('n', 2);
    await expect(single).rejects.toThrow('send 2 refused');
    await queue.close();
    await inner.close();
  });
});
