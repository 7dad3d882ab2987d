import { RetryAfterError } from '@queuekit/core';
import { expect, it } from 'vitest';
import { rejectsWith } from '../expect-error.js';
import { type Harness, until } from '../harness.js';

type Keyed = { key: string; seq: number };

/** Ordering keys under batching, concurrency and retries (or the typed error where not declared). */
export function orderingCases(h: Harness): void {
  const ordering = h.capabilities.ordering;

  /** Process `name` with concurrency 4, recording the sequence numbers per key in completion order. */
  async function consume(name: string, handler?: (job: Keyed, attempt: number) => void) {
    const queue = await h.queue<Keyed>(name, {}, { failures: handler !== undefined });
    const byKey = new Map<string, number[]>();
    queue.process(
      async (job) => {
        handler?.(job.data, job.attempt);
        byKey.set(job.data.key, [...(byKey.get(job.data.key) ?? []), job.data.seq]);
      },
      { concurrency: 4 },
    );
    return byKey;
  }

  it('sendBatch larger than maxBatchSize keeps the order of each key', async () => {
    const name = h.queueName();
    const producer = await h.queue<Keyed>(name);
    const perKey = Math.min(h.capabilities.maxBatchSize + 5, 1200);
    const entries = Array.from({ length: perKey * 2 }, (_, i) => {
      const key = i % 2 === 0 ? 'a' : 'b';
      return { name: 'ordered', data: { key, seq: Math.floor(i / 2) }, options: { orderingKey: key } };
    });
    if (!ordering) {
      await rejectsWith(producer.sendBatch(entries.slice(0, 3)), 'ERR_UNSUPPORTED_FEATURE');
      return;
    }
    await producer.sendBatch(entries);
    const byKey = await consume(name);
    await until(
      'every ordered job',
      h.timeout(120_000),
      () => (byKey.get('a')?.length ?? 0) + (byKey.get('b')?.length ?? 0) >= entries.length,
      50,
    );
    const expected = Array.from({ length: perKey }, (_, i) => i);
    expect(byKey.get('a')).toEqual(expected);
    expect(byKey.get('b')).toEqual(expected);
  });

  it('concurrent sends of one key are delivered in the order they were called', async () => {
    const name = h.queueName();
    const producer = await h.queue<Keyed>(name);
    if (!ordering) {
      await rejectsWith(
        producer.send('ordered', { key: 'a', seq: 0 }, { orderingKey: 'a' }),
        'ERR_UNSUPPORTED_FEATURE',
      );
      return;
    }
    const count = Math.max(30, 2 * h.capabilities.maxBatchSize + 3);
    const calls = Math.min(count, 300);
    await Promise.all(
      Array.from({ length: calls }, (_, seq) =>
        producer.send('ordered', { key: 'a', seq }, { orderingKey: 'a' }),
      ),
    );
    const byKey = await consume(name);
    await until('every ordered job', h.timeout(60_000), () => (byKey.get('a')?.length ?? 0) >= calls, 50);
    expect(byKey.get('a')).toEqual(Array.from({ length: calls }, (_, i) => i));
  });

  it('a retry inside a key (backoff or RetryAfterError) runs before the later jobs of that key', async () => {
    const name = h.queueName();
    const producer = await h.queue<Keyed>(name);
    if (!ordering) {
      await rejectsWith(
        producer.sendBatch([{ name: 'ordered', data: { key: 'a', seq: 0 }, options: { orderingKey: 'a' } }]),
        'ERR_UNSUPPORTED_FEATURE',
      );
      return;
    }
    for (let seq = 0; seq < 8; seq++) {
      await producer.send(
        'ordered',
        { key: 'a', seq },
        { orderingKey: 'a', backoff: { type: 'fixed', delay: 100 } },
      );
    }
    const attempts: string[] = [];
    const byKey = await consume(name, (job, attempt) => {
      attempts.push(`${job.seq}@${attempt}`);
      if (job.seq === 2 && attempt === 1) throw new Error('transient');
      if (job.seq === 5 && !attempts.includes('5@retried')) {
        attempts.push('5@retried');
        throw new RetryAfterError(300);
      }
    });
    await until('8 ordered jobs', h.timeout(60_000), () => (byKey.get('a')?.length ?? 0) >= 8, 50);
    expect(byKey.get('a')).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(attempts.filter((a) => a.startsWith('2@'))).toEqual(['2@1', '2@2']);
  });
}
