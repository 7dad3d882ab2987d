import { describe, expect, it } from 'vitest';
import { Wakeup } from '../../src/driver-kit/index.js';

describe('Wakeup', () => {
  it('ends every pending wait on wake', async () => {
    const wakeup = new Wakeup();
    const waits = [wakeup.wait(60_000), wakeup.wait(60_000)];
    expect(wakeup.waiting).toBe(2);
    wakeup.wake();
    expect(await Promise.all(waits)).toEqual(['woken', 'woken']);
    expect(wakeup.waiting).toBe(0);
  });

  it('times out', async () => {
    expect(await new Wakeup().wait(5)).toBe('timeout');
  });

  it('ends on abort, and at once for a signal already aborted', async () => {
    const wakeup = new Wakeup();
    const controller = new AbortController();
    const waiting = wakeup.wait(60_000, controller.signal);
    controller.abort();
    expect(await waiting).toBe('aborted');
    expect(await wakeup.wait(60_000, controller.signal)).toBe('aborted');
    expect(wakeup.waiting).toBe(0);
  });

  it('loses no wake-up that came between looking for work and waiting', async () => {
    const wakeup = new Wakeup();
    const seen = wakeup.generation;
    wakeup.wake(); // e.g. a send, while the receiver was finding the queue empty
    expect(await wakeup.wait(60_000, undefined, seen)).toBe('woken');
    const now = wakeup.generation;
    const waiting = wakeup.wait(60_000, undefined, now);
    expect(wakeup.waiting).toBe(1);
    wakeup.wake();
    expect(await waiting).toBe('woken');
  });
});
