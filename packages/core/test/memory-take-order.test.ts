import { afterEach, describe, expect, it, vi } from 'vitest';
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
  afterEach(() => {
    vi.useRealTimers();
  });

  // A seeded random walk on a fake clock (settles read Date.now()).
  it('takes exactly what a scan of the whole queue would, through sends, delays, locks and settles', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const broker = new MemoryBroker();
    const held: { key: string; token: string }[] = [];
    vi.useFakeTimers({ toFake: ['Date'] });
    let now = Date.now();
    let acked = 0;
    for (let step = 0; step < 3000; step++) {
      now += Math.floor(random() * 5);
      vi.setSystemTime(now);
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
        if (action < 0.5) acked += broker.ack('q', pick.key, pick.token) ? 1 : 0;
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
