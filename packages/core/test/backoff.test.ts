import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../src/semantics/backoff.js';

describe('backoffDelay', () => {
  it('doubles per attempt for exponential and stays flat for fixed', () => {
    const policy = { type: 'exponential', delay: 100, jitter: 0 } as const;
    expect([1, 2, 3, 4].map((attempt) => backoffDelay(policy, attempt))).toEqual([100, 200, 400, 800]);
    expect([1, 2, 3].map((attempt) => backoffDelay({ type: 'fixed', delay: 250 }, attempt))).toEqual([
      250, 250, 250,
    ]);
  });

  it('caps at maxDelay', () => {
    expect(backoffDelay({ type: 'exponential', delay: 1000, maxDelay: 5000 }, 10)).toBe(5000);
  });

  it('takes at most the jitter fraction off, never below zero', () => {
    const policy = { type: 'fixed', delay: 1000, jitter: 0.5 } as const;
    expect(backoffDelay(policy, 1, () => 0)).toBe(1000);
    expect(backoffDelay(policy, 1, () => 0.999999)).toBe(500);
    expect(backoffDelay({ delay: 0, jitter: 1 }, 1, () => 1)).toBe(0);
  });

  it('defaults to exponential from 1 s', () => {
    expect(backoffDelay(undefined, 1, () => 0)).toBe(1000);
    expect(backoffDelay(undefined, 3, () => 0)).toBe(4000);
  });
});
