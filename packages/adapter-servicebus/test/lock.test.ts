/** The lock keeper on its own (no broker): renewals, and a failed renewal that was not a lost lock. */
import { until } from '@queuekit/conformance';
import { expect, it } from 'vitest';
import { LockKeeper } from '../src/receiver.js';

const LOCK = 400;

it('a renewal that fails without losing the lock (a timeout) is tried again; the lock keeps being held', async () => {
  let calls = 0;
  const keeper = new LockKeeper(
    async () => {
      calls++;
      if (calls === 1) throw Object.assign(new Error('renew timed out'), { code: 'ServiceTimeout' });
      return new Date(Date.now() + LOCK);
    },
    Date.now() + LOCK,
    10 * LOCK,
  );
  try {
    await until('renewed after the failure', 5 * LOCK, () => calls >= 3, 10);
    expect(keeper.failure).toBeUndefined();
    expect(keeper.heldUntil).toBeGreaterThan(Date.now());
  } finally {
    keeper.stop();
  }
});

it('a lost lock is final: no more renewals, lockedUntil is the broker expiry', async () => {
  let calls = 0;
  const start = Date.now();
  const keeper = new LockKeeper(
    async () => {
      calls++;
      throw Object.assign(new Error('lock lost'), { code: 'MessageLockLost' });
    },
    start + LOCK,
    10 * LOCK,
  );
  try {
    await until('the failed renewal', 5 * LOCK, () => keeper.failure !== undefined, 10);
    const after = calls;
    await until('past the lock', 5 * LOCK, () => Date.now() > start + 2 * LOCK, 20);
    expect(calls).toBe(after);
    expect(keeper.heldUntil).toBe(start + LOCK);
  } finally {
    keeper.stop();
  }
});
