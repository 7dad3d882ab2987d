import { expect, it } from 'vitest';
import { rejectsWith } from '../expect-error.js';
import { type Harness, until } from '../harness.js';

/** Priority, deduplication, ordering keys and batch send, each native, emulated or a typed error. */
export function featureCases(h: Harness): void {
  const priority = h.capabilities.priority;

  it('serves waiting jobs by priority, higher first (native or emulated), or refuses priority with a typed error', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ p: number }>(name);
    if (priority === 'none') {
      await rejectsWith(queue.send('prio', { p: 1 }, { priority: 1 }), 'ERR_UNSUPPORTED_FEATURE');
      return;
    }
    const priorities = [3, 7, 1, 9, 0, 5, 8, 2, 6, 4];
    for (const p of priorities) await queue.send('prio', { p }, { priority: p });
    await until('10 waiting jobs', h.timeout(15_000), async () => {
      const stats = await queue.stats();
      return stats.waiting === undefined || stats.waiting === 10;
    });
    const order: number[] = [];
    const reported: number[] = [];
    queue.process(
      async (job) => {
        order.push(job.data.p);
        reported.push(job.priority);
      },
      { concurrency: 1 },
    );
    await until('10 jobs processed', h.timeout(30_000), () => order.length === 10);
    expect(order).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(reported).toEqual(order);
  });

  it('strict mode keeps native priority and refuses emulated priority with a typed error', async () => {
    const name = h.queueName();
    const queue = await h.queue<null>(name, { strict: true });
    if (priority === 'native') {
      const got: number[] = [];
      queue.process(async (job) => {
        got.push(job.priority);
      });
      await queue.send('prio', null, { priority: 5 });
      await until('the prioritised job', h.timeout(10_000), () => got.length === 1);
      expect(got).toEqual([5]);
      return;
    }
    await rejectsWith(queue.send('prio', null, { priority: 5 }), 'ERR_UNSUPPORTED_FEATURE');
  });

  it('deduplicates by jobId where declared, and refuses jobId with a typed error where not', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ n: number }>(name);
    if (!h.capabilities.dedup) {
      await rejectsWith(queue.send('once', { n: 1 }, { jobId: 'order-42' }), 'ERR_UNSUPPORTED_FEATURE');
      return;
    }
    const first = await queue.send('once', { n: 1 }, { jobId: 'order-42' });
    const second = await queue.send('once', { n: 2 }, { jobId: 'order-42' });
    expect(first).toBe('order-42');
    expect(second).toBe('order-42');
    const seen: { id: string; n: number }[] = [];
    queue.process(async (job) => {
      seen.push({ id: job.id, n: job.data.n });
    });
    await until('the first copy', h.timeout(10_000), () => seen.length >= 1);
    await queue.send('sentinel', { n: 3 });
    await until('the sentinel', h.timeout(10_000), () => seen.some((s) => s.n === 3));
    expect(seen.filter((s) => s.id === 'order-42')).toEqual([{ id: 'order-42', n: 1 }]);
  });

  it('keeps order per ordering key where declared, and refuses the key with a typed error where not', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ key: string; seq: number }>(name);
    if (!h.capabilities.ordering) {
      await rejectsWith(
        queue.send('ordered', { key: 'a', seq: 0 }, { orderingKey: 'a' }),
        'ERR_UNSUPPORTED_FEATURE',
      );
      return;
    }
    for (let seq = 0; seq < 10; seq++) {
      for (const key of ['a', 'b']) await queue.send('ordered', { key, seq }, { orderingKey: key });
    }
    const byKey: Record<string, number[]> = { a: [], b: [] };
    const running = new Set<string>();
    let overlap = false;
    queue.process(
      async (job) => {
        if (running.has(job.data.key)) overlap = true;
        running.add(job.data.key);
        await new Promise((resolve) => setImmediate(resolve));
        byKey[job.data.key]?.push(job.data.seq);
        running.delete(job.data.key);
      },
      { concurrency: 4 },
    );
    await until(
      '20 ordered jobs',
      h.timeout(30_000),
      () => (byKey.a?.length ?? 0) + (byKey.b?.length ?? 0) === 20,
    );
    const expected = Array.from({ length: 10 }, (_, i) => i);
    expect(byKey.a).toEqual(expected);
    expect(byKey.b).toEqual(expected);
    expect(overlap).toBe(false);
  });

  it('sendBatch sends every entry, or none when one entry is invalid', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ i: number }>(name);
    await rejectsWith(
      queue.sendBatch([
        { name: 'b', data: { i: -1 } },
        { name: 'b', data: { i: -2 }, options: { priority: 12 } },
      ]),
      'ERR_CONFIG',
    );
    const ids = await queue.sendBatch(Array.from({ length: 25 }, (_, i) => ({ name: 'b', data: { i } })));
    expect(new Set(ids).size).toBe(25);
    const seen = new Set<number>();
    queue.process(async (job) => {
      seen.add(job.data.i);
    });
    await until('25 batch jobs', h.timeout(30_000), () => seen.size === 25);
    expect([...seen].every((i) => i >= 0)).toBe(true);
  });
}
