import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../src/index.js';
import { ReadyIndex } from '../src/memory/ready-index.js';
import type { StoredMessage } from '../src/memory/state.js';

const msg = (id: string, extra: { priority?: number; delayMs?: number; orderingKey?: string } = {}) => ({
  id,
  name: 'n',
  body: new Uint8Array(),
  headers: {},
  ...extra,
});
const ids = (taken: { message: { id: string } }[]) => taken.map((t) => t.message.id);

describe('memory broker ready index (no scan per receive)', () => {
  it('hands out best priority first, then oldest, and each message once', () => {
    const broker = new MemoryBroker();
    broker.enqueue('q', msg('a', { priority: 1 }), 0);
    broker.enqueue('q', msg('b', { priority: 5 }), 0);
    broker.enqueue('q', msg('c', { priority: 5 }), 0);
    broker.enqueue('q', msg('d'), 0);
    expect(ids(broker.take('q', 3, 1_000, 1))).toEqual(['b', 'c', 'a']);
    expect(ids(broker.take('q', 3, 1_000, 1))).toEqual(['d']);
    expect(broker.take('q', 3, 1_000, 2)).toEqual([]);
  });

  it('shows a delayed message when due, and a message again when its lock ran out', () => {
    const broker = new MemoryBroker();
    broker.enqueue('q', msg('late', { delayMs: 100 }), 0);
    broker.enqueue('q', msg('now'), 0);
    expect(ids(broker.take('q', 5, 50, 0))).toEqual(['now']);
    expect(broker.take('q', 5, 50, 49)).toEqual([]);
    expect(ids(broker.take('q', 5, 50, 60))).toEqual(['now']); // lock of 50 ms ran out
    expect(ids(broker.take('q', 5, 50, 100))).toEqual(['late']);
  });

  it('a renewed lock keeps the message out; a released one comes back after its delay', () => {
    const broker = new MemoryBroker();
    broker.enqueue('q', msg('a'), Date.now());
    const [held] = broker.take('q', 1, 60_000);
    if (!held) throw new Error('expected a message');
    expect(broker.extend('q', held.key, held.token, 120_000)).toBe(true);
    expect(broker.take('q', 1, 1_000, Date.now() + 90_000)).toEqual([]);
    expect(broker.release('q', held.key, held.token, 0)).toBe(true);
    expect(ids(broker.take('q', 1, 1_000))).toEqual(['a']);
  });

  it('gives an ordering key one message at a time, in send order, even past better priorities', () => {
    const broker = new MemoryBroker();
    const now = Date.now();
    broker.enqueue('q', msg('k1', { orderingKey: 'k' }), now);
    broker.enqueue('q', msg('k2', { orderingKey: 'k', priority: 9 }), now);
    broker.enqueue('q', msg('free'), now);
    const first = broker.take('q', 5, 60_000, now);
    expect(ids(first)).toEqual(['k1', 'free']);
    expect(broker.take('q', 5, 60_000, now)).toEqual([]);
    const k1 = first[0];
    if (!k1) throw new Error('expected k1');
    expect(broker.ack('q', k1.key, k1.token)).toBe(true);
    expect(ids(broker.take('q', 5, 60_000, now))).toEqual(['k2']);
  });
});

describe('memory broker ready index, stale entries', () => {
  it('stays bounded by the messages held, however many locks were taken and acked', () => {
    const messages = new Map<string, StoredMessage>();
    const index = new ReadyIndex(messages);
    const now = Date.now();
    for (let i = 0; i < 20_000; i++) {
      const message: StoredMessage = {
        id: `m${i}`,
        name: 'n',
        body: new Uint8Array(),
        headers: {},
        priority: 0,
        orderingKey: undefined,
        seq: i,
        enqueuedAt: new Date(now),
        visibleAt: now,
        deliveryCount: 0,
        lockToken: undefined,
        lockedUntil: 0,
        stamp: 0,
      };
      messages.set(message.id, message);
      index.added(message.id, message, now);
      const [taken] = index.take(1, now);
      if (!taken) throw new Error('expected the message');
      message.lockToken = 't';
      message.lockedUntil = now + 30_000; // a long lock, acked at once: its entry is stale at once
      index.locked(taken.key, message);
      messages.delete(message.id);
      index.removed(message, now);
    }
    expect(index.entries).toBeLessThan(2 * 1024 + 10);
  });

  it('with a big backlog, keeps the lock entries of acked messages bounded by the live locks', () => {
    const broker = new MemoryBroker();
    const now = Date.now();
    for (let i = 0; i < 20_000; i++) broker.enqueue('q', msg(`m${i}`), now);
    // One at a time, as a consumer with free slots does: each taken under a long lock, acked at once.
    for (let i = 0; i < 10_000; i++) {
      const [taken] = broker.take('q', 1, 60_000, now);
      if (!taken) throw new Error('expected a message');
      expect(broker.ack('q', taken.key, taken.token)).toBe(true);
    }
    const index = (broker as unknown as { queues: Map<string, { index: ReadyIndex }> }).queues.get(
      'q',
    )?.index;
    // 10,000 still ready, plus at most 2 x live locks (none) + the sweep slack of stale lock entries.
    expect(index?.entries).toBeLessThanOrEqual(10_000 + 1024 + 1);
  });
});
