import { describe, expect, it } from 'vitest';
import { ReadyQueue } from '../src/memory/ready-queue.js';

type E = { readonly message: { readonly priority: number; readonly seq: number } };
const entry = (priority: number, seq: number): E => ({ message: { priority, seq } });
const order = (a: E, b: E) => b.message.priority - a.message.priority || a.message.seq - b.message.seq;

describe('ReadyQueue', () => {
  it('pops highest priority first, oldest first within one, whatever order entries came in', () => {
    // A seeded walk: mostly in send order, some out of order (locks that ran out, releases), pops between.
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const queue = new ReadyQueue<E>();
    const model: E[] = [];
    let seq = 0;
    for (let step = 0; step < 20_000; step++) {
      const roll = random();
      if (roll < 0.55) {
        const late = random() < 0.1 && seq > 10;
        const e = entry(Math.floor(random() * 3), late ? Math.floor(random() * seq) : ++seq);
        queue.push(e);
        model.push(e);
      } else {
        model.sort(order);
        const expected = model.shift();
        const got = queue.pop();
        expect(got?.message).toEqual(expected?.message);
      }
      expect(queue.size).toBe(model.length);
    }
    model.sort(order);
    for (const expected of model) expect(queue.pop()?.message).toEqual(expected.message);
    expect(queue.pop()).toBeUndefined();
    expect(queue.size).toBe(0);
  });

  it('is empty after clear', () => {
    const queue = new ReadyQueue<E>();
    queue.push(entry(1, 1));
    queue.push(entry(9, 2));
    queue.clear();
    expect(queue.size).toBe(0);
    expect(queue.pop()).toBeUndefined();
    queue.push(entry(0, 3));
    expect(queue.pop()?.message.seq).toBe(3);
  });
});
