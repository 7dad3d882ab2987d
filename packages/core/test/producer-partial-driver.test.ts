import { describe, expect, it } from 'vitest';
import {
  createMemoryDriver,
  createQueue,
  MemoryBroker,
  type OutgoingMessage,
  PartialSendError,
} from '../src/index.js';
import { wrapDriver } from './wrap.js';

/** A 10-message driver whose first call accepts only the first half of its messages, as a driver that splits further would. */
function halfAcceptingDriver() {
  const inner = createMemoryDriver({ broker: new MemoryBroker(), limitCapabilities: { maxBatchSize: 10 } });
  let calls = 0;
  const driver = wrapDriver(inner, {
    send: async (queue: string, messages: readonly OutgoingMessage[]) => {
      if (++calls > 1) return inner.send(queue, messages);
      const half = messages.slice(0, Math.ceil(messages.length / 2));
      await inner.send(queue, half);
      throw new PartialSendError(
        half.map((m) => m.id),
        messages.slice(half.length).map((m) => m.id),
      );
    },
  });
  return { driver, inner };
}

describe('a driver that accepts part of one chunk', () => {
  it('sendBatch reports the ids the driver accepted as sent, and keeps their job records', async () => {
    const { driver } = halfAcceptingDriver();
    const queue = createQueue<number>({ name: 'partial-driver', driver });
    const entries = Array.from({ length: 20 }, (_, i) => ({ name: 'n', data: i }));
    const error = (await queue.sendBatch(entries).catch((e: unknown) => e)) as PartialSendError;
    expect(error).toBeInstanceOf(PartialSendError);
    // Chunk 1: half accepted by the driver itself; chunk 2 sent in full.
    expect(error.sent).toHaveLength(15);
    expect(error.unsent).toHaveLength(5);
    for (const id of error.sent) expect((await queue.getJob(id))?.state).toBe('waiting');
    for (const id of error.unsent) expect(await queue.getJob(id)).toBeUndefined();
    await queue.close();
  });

  it('single sends coalesced into that chunk resolve for the accepted ids and reject for the others', async () => {
    const { driver } = halfAcceptingDriver();
    const queue = createQueue<number>({ name: 'partial-driver-single', driver });
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => queue.send('n', i, { jobId: `s${i}` })),
    );
    expect(results.slice(0, 5).map((r) => r.status)).toEqual(Array(5).fill('fulfilled'));
    expect(results.slice(5).map((r) => r.status)).toEqual(Array(5).fill('rejected'));
    await queue.close();
  });
});
