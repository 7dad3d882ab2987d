import { describe, expect, it } from 'vitest';
import { CHEAP_RECEIVE_MS, Linger } from '../src/consumer/linger.js';

describe('the receive linger', () => {
  it('waits for more free slots only while receives cost a round trip', () => {
    const linger = new Linger(50, 10); // batch target: 5 free slots
    expect(linger.wanted(2, 48)).toBe(false); // nothing measured yet
    linger.observe(12); // a network round trip (SQS-like)
    expect(linger.wanted(2, 48)).toBe(true);
    expect(linger.wanted(5, 45)).toBe(false); // enough slots free for a batch
    expect(linger.wanted(2, 0)).toBe(false); // an idle consumer never lingers
  });

  it('stops lingering once receives are answered from the driver buffer (BullMQ, AMQP)', () => {
    const linger = new Linger(50, 1000);
    linger.observe(CHEAP_RECEIVE_MS / 4);
    expect(linger.wanted(1, 49)).toBe(false);
    linger.observe(20);
    expect(linger.wanted(1, 49)).toBe(true); // the average moved above the bound
    for (let i = 0; i < 30; i++) linger.observe(0.1);
    expect(linger.wanted(1, 49)).toBe(false);
  });
});
