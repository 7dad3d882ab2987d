import { describe, expect, it } from 'vitest';
import { MemoryBroker } from '../src/index.js';
import type { StoredMessage } from '../src/memory/broker.js';

const body = new Uint8Array();
const send = (
  broker: MemoryBroker,
  id: string,
  now: number,
  options: { priority?: number; delayMs?: number; orderingKey?: string } = {},
) => broker.enqueue('q', { id, name: 'n', body, headers: {}, ...options }, now);
const ids = (taken: { message: StoredMessage }[]) => taken.map((t) => t.message.id);

describe('memory broker: what a receive takes', () => {
  it('best priority first, FIFO within a priority', () => {
    const broker = new MemoryBroker();
    send(broker, 'low-1', 0, { priority: 1 });
    send(broker, 'high-1', 0, { priority: 9 });
    send(broker, 'low-2', 0, { priority: 1 });
    send(broker, 'none', 0);
    send(broker, 'high-2', 0, { priority: 9 });
    expect(ids(broker.take('q', 10, 1000, 0))).toEqual(['high-1', 'high-2', 'low-1', 'low-2', 'none']);
  });

  it('a delayed message waits for its time, then goes by priority and age', () => {
    const broker = new MemoryBroker();
    send(broker, 'later', 0, { delayMs: 100, priority: 5 });
    send(broker, 'now', 0);
    expect(ids(broker.take('q', 10, 1000, 50))).toEqual(['now']);
    send(broker, 'young', 60, { priority: 5 });
    expect(ids(broker.take('q', 10, 1000, 99))).toEqual(['young']);
    send(broker, 'old-low', 0);
    expect(ids(broker.take('q', 10, 1000, 100))).toEqual(['later', 'old-low']);
  });

  it('a released message keeps its place; an expired lock makes it ready again; max is honoured', () => {
    const broker = new MemoryBroker();
    for (const id of ['a', 'b', 'c']) send(broker, id, 0);
    const [a] = broker.take('q', 1, 1000, 0);
    if (!a) throw new Error('nothing taken');
    expect(broker.release('q', a.key, a.token, 0, {}, 10)).toBe(true);
    expect(ids(broker.take('q', 2, 1000, 10))).toEqual(['a', 'b']);
    expect(ids(broker.take('q', 5, 1000, 20))).toEqual(['c']);
    expect(ids(broker.take('q', 5, 1000, 1009))).toEqual([]);
    expect(ids(broker.take('q', 5, 1000, 1010))).toEqual(['a', 'b']);
  });

  it('an extended lock holds until its new expiry', () => {
    const broker = new MemoryBroker();
    send(broker, 'a', 0);
    const [a] = broker.take('q', 1, 100, 0);
    if (!a) throw new Error('nothing taken');
    expect(broker.extend('q', a.key, a.token, 500, 50)).toBe(true);
    expect(ids(broker.take('q', 1, 100, 200))).toEqual([]);
    expect(ids(broker.take('q', 1, 100, 550))).toEqual(['a']);
  });

  it('one message of an ordering key out at a time, oldest first, the next once it is acked', () => {
    const broker = new MemoryBroker();
    send(broker, 'k1', 0, { orderingKey: 'k' });
    send(broker, 'k2', 0, { orderingKey: 'k', priority: 9 });
    send(broker, 'free', 0);
    const first = broker.take('q', 10, 1000, 0);
    expect(ids(first)).toEqual(['k1', 'free']);
    expect(ids(broker.take('q', 10, 1000, 1))).toEqual([]);
    const k1 = first[0];
    if (!k1) throw new Error('k1 not taken');
    expect(broker.ack('q', k1.key, k1.token, 1)).toBe(true);
    expect(ids(broker.take('q', 10, 1000, 2))).toEqual(['k2']);
  });

  it('takes exactly what a scan of the whole queue would, through sends, delays, locks and settles', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const broker = new MemoryBroker();
    const held: { key: string; token: string }[] = [];
    let now = 0;
    let acked = 0;
    for (let step = 0; step < 3000; step++) {
      now += Math.floor(random() * 5);
      const roll = random();
      if (roll < 0.35) {
        const id = `m${step}`;
        send(broker, id, now, {
          priority: Math.floor(random() * 3),
          ...(random() < 0.3 ? { delayMs: Math.floor(random() * 50) } : {}),
          ...(random() < 0.3 ? { orderingKey: `k${Math.floor(random() * 4)}` } : {}),
        });
      } else if (roll < 0.75 && held.length > 0) {
        const [pick] = held.splice(Math.floor(random() * held.length), 1);
        if (!pick) continue;
        const action = random();
        if (action < 0.5) acked += broker.ack('q', pick.key, pick.token, now) ? 1 : 0;
        else if (action < 0.8) broker.release('q', pick.key, pick.token, Math.floor(random() * 20), {}, now);
        else if (broker.extend('q', pick.key, pick.token, 40, now)) held.push(pick);
      } else {
        const expected = scan(broker, now, 3);
        const taken = broker.take('q', 3, 200, now);
        expect(ids(taken)).toEqual(expected);
        for (const t of taken) held.push({ key: t.key, token: t.token });
      }
    }
    expect(acked).toBeGreaterThan(100);
  });
});

/** What the broker used to do per receive: scan, filter and sort every message of the queue. */
function scan(broker: MemoryBroker, now: number, max: number): string[] {
  const messages = [
    ...((broker as unknown as { queues: Map<string, { messages: Map<string, StoredMessage> }> }).queues
      .get('q')
      ?.messages.values() ?? []),
  ];
  const locked = (m: StoredMessage) => m.lockToken !== undefined && m.lockedUntil > now;
  const busy = new Set(messages.filter((m) => locked(m) && m.orderingKey).map((m) => m.orderingKey));
  const earliest = new Map<string, number>();
  for (const m of messages)
    if (m.orderingKey !== undefined)
      earliest.set(m.orderingKey, Math.min(earliest.get(m.orderingKey) ?? m.seq, m.seq));
  const out: string[] = [];
  for (const m of messages
    .filter((m) => !locked(m) && m.visibleAt <= now)
    .sort((a, b) => b.priority - a.priority || a.seq - b.seq)) {
    if (out.length >= max) break;
    if (m.orderingKey !== undefined) {
      if (busy.has(m.orderingKey) || earliest.get(m.orderingKey) !== m.seq) continue;
      busy.add(m.orderingKey);
    }
    out.push(m.id);
  }
  return out;
}
