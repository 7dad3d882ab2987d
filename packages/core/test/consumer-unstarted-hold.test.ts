import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Delivery, LockLostError, QueuekitError } from '../src/index.js';
import { UnstartedHold } from '../src/consumer/unstarted-hold.js';

const LOCK_MS = 300;

/** A delivery whose `extendLock` calls are recorded (at the fake clock's time) and answered by `answer`. */
function delivery(id: string, answer: () => Promise<void> = async () => undefined) {
  const renewals: number[] = [];
  const d = {
    id,
    body: new Uint8Array(),
    headers: {},
    deliveryCount: 1,
    raw: undefined,
    ack: async () => undefined,
    deadLetter: async () => undefined,
    extendLock: async (ms: number) => {
      expect(ms).toBe(LOCK_MS);
      renewals.push(Date.now());
      return answer();
    },
  } satisfies Delivery;
  return { delivery: d as Delivery, renewals };
}

/** Let the renewals' promise reactions run (fake timers do not run microtasks on their own). */
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('the hold of unstarted deliveries', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('renews every lock once a third of it has run since it was taken, then a third after each renewal', async () => {
    const hold = new UnstartedHold(LOCK_MS);
    const a = delivery('a');
    const b = delivery('b');
    const t0 = Date.now();
    const batch = hold.keep([a.delivery, b.delivery], t0);
    await vi.advanceTimersByTimeAsync(LOCK_MS / 3 - 1);
    expect(a.renewals).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(a.renewals).toEqual([t0 + LOCK_MS / 3]);
    expect(b.renewals).toEqual([t0 + LOCK_MS / 3]);
    expect(batch.lockedAt).toBe(t0 + LOCK_MS / 3);
    await vi.advanceTimersByTimeAsync((LOCK_MS / 3) * 4);
    expect(a.renewals).toEqual([1, 2, 3, 4, 5].map((n) => t0 + (n * LOCK_MS) / 3));
    expect(batch.lockedAt).toBe(t0 + (5 * LOCK_MS) / 3);
    expect(batch.size).toBe(2);
  });

  it('renews at once a lock taken long before it was kept (a poll that began early, a late receive)', async () => {
    const hold = new UnstartedHold(LOCK_MS);
    const a = delivery('a');
    const batch = hold.keep([a.delivery], Date.now() - LOCK_MS);
    await settle();
    expect(a.renewals).toEqual([Date.now()]);
    expect(batch.lockedAt).toBe(Date.now());
  });

  it('hands out the front of a batch with when its locks were renewed, and renews only what is left', async () => {
    const hold = new UnstartedHold(LOCK_MS);
    const a = delivery('a');
    const b = delivery('b');
    const t0 = Date.now();
    const batch = hold.keep([a.delivery, b.delivery], t0);
    await vi.advanceTimersByTimeAsync(LOCK_MS / 3);
    expect(batch.take(1)).toEqual([a.delivery]);
    expect(batch.lockedAt).toBe(t0 + LOCK_MS / 3);
    await vi.advanceTimersByTimeAsync(LOCK_MS);
    expect(a.renewals).toHaveLength(1);
    expect(b.renewals).toHaveLength(4);
    expect(batch.take(5)).toEqual([b.delivery]);
    expect(hold.size).toBe(0);
    // Nothing held: no timer left running.
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(LOCK_MS);
    expect(b.renewals).toHaveLength(4);
  });

  it('gives up a delivery whose renewal fails: dropped, never handed out, reported as a lost lock', async () => {
    const lost: { id: string; error: LockLostError }[] = [];
    const hold = new UnstartedHold(LOCK_MS, (d, error) => lost.push({ id: d.id, error }));
    const a = delivery('a');
    const b = delivery('b', async () => {
      throw new Error('connection reset');
    });
    const c = delivery('c', async () => {
      throw new LockLostError('taken by another consumer');
    });
    const t0 = Date.now();
    const batch = hold.keep([a.delivery, b.delivery, c.delivery], t0);
    await vi.advanceTimersByTimeAsync(LOCK_MS / 3);
    expect(lost.map(({ id }) => id)).toEqual(['b', 'c']);
    expect(lost.every(({ error }) => QueuekitError.is(error, 'ERR_LOCK_LOST'))).toBe(true);
    expect(lost.map(({ error }) => error.message)).toEqual(['connection reset', 'taken by another consumer']);
    expect(batch.size).toBe(1);
    // The one left was renewed: its batch counts as renewed.
    expect(batch.lockedAt).toBe(t0 + LOCK_MS / 3);
    await vi.advanceTimersByTimeAsync(LOCK_MS / 3);
    expect(a.renewals).toHaveLength(2);
    expect(b.renewals).toHaveLength(1);
    expect(batch.take(10)).toEqual([a.delivery]);
  });

  it('stops renewing a batch whose every renewal failed', async () => {
    const lost: string[] = [];
    const hold = new UnstartedHold(LOCK_MS, (d) => lost.push(d.id));
    const a = delivery('a', async () => {
      throw new LockLostError();
    });
    const batch = hold.keep([a.delivery], Date.now());
    await vi.advanceTimersByTimeAsync(LOCK_MS);
    expect(lost).toEqual(['a']);
    expect(a.renewals).toHaveLength(1);
    expect(batch.size).toBe(0);
    expect(hold.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not give up a delivery taken while its renewal was in flight (the heartbeat holds it then)', async () => {
    const lost: string[] = [];
    let fail: ((error: Error) => void) | undefined;
    const hold = new UnstartedHold(LOCK_MS, (d) => lost.push(d.id));
    const a = delivery(
      'a',
      () =>
        new Promise<void>((_, reject) => {
          fail = reject;
        }),
    );
    const batch = hold.keep([a.delivery], Date.now());
    await vi.advanceTimersByTimeAsync(LOCK_MS / 3);
    expect(a.renewals).toHaveLength(1);
    // No second renewal while one is in flight.
    await vi.advanceTimersByTimeAsync(LOCK_MS);
    expect(a.renewals).toHaveLength(1);
    expect(batch.take(1)).toEqual([a.delivery]);
    fail?.(new LockLostError());
    await settle();
    expect(lost).toEqual([]);
  });

  it('renews nothing once cleared (what it held is left to the broker)', async () => {
    const hold = new UnstartedHold(LOCK_MS);
    const a = delivery('a');
    hold.keep([a.delivery], Date.now());
    expect(vi.getTimerCount()).toBe(1);
    hold.clear();
    expect(hold.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(LOCK_MS * 2);
    expect(a.renewals).toEqual([]);
  });

  it('keeps deliveries whose driver cannot renew without a timer, their lock time as it was', async () => {
    const hold = new UnstartedHold(LOCK_MS);
    const { extendLock: _, ...plain } = delivery('a').delivery;
    const t0 = Date.now();
    const batch = hold.keep([plain as Delivery], t0);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(LOCK_MS * 2);
    expect(batch.lockedAt).toBe(t0);
    expect(batch.take(1)).toEqual([plain]);
  });
});
