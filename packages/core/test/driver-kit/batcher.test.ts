import { describe, expect, it } from 'vitest';
import { Batcher } from '../../src/driver-kit/index.js';

describe('Batcher', () => {
  it('coalesces one turn of adds per key into chunks of at most maxItems, in order', async () => {
    const calls: [string, number[]][] = [];
    const batcher = new Batcher<number>(3, async (key, items) => {
      calls.push([key, items]);
      return undefined;
    });
    const done = [1, 2, 3, 4, 5].map((n) => batcher.add('a', n));
    done.push(batcher.add('b', 9));
    await Promise.all(done);
    expect(calls).toEqual([
      ['a', [1, 2, 3]],
      ['a', [4, 5]],
      ['b', [9]],
    ]);
  });

  it('settles each caller with its own item: a per-item error, or the rejection of the whole call', async () => {
    const failing = new Batcher<string>(10, async (_key, items) =>
      items.map((item) => (item === 'bad' ? new Error(`refused ${item}`) : undefined)),
    );
    const results = await Promise.allSettled([failing.add('q', 'ok'), failing.add('q', 'bad')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'refused bad' });
    const down = new Batcher<string>(10, async () => {
      throw new Error('unreachable');
    });
    const all = await Promise.allSettled([down.add('q', 'x'), down.add('q', 'y')]);
    expect(all.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('drain sends what is pending at once and waits for chunks in flight', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let flushed = 0;
    const batcher = new Batcher<number>(10, async (_key, items) => {
      await gate;
      flushed += items.length;
      return undefined;
    });
    void batcher.add('q', 1);
    void batcher.add('q', 2);
    let drained = false;
    const draining = batcher.drain().then(() => {
      drained = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(drained).toBe(false);
    release();
    await draining;
    expect(flushed).toBe(2);
  });
});
