import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/index.js';
import { RateLimiter } from '../src/workflows/rate-limit.js';

describe('rate limiter', () => {
  it('never grants more than max in a window, and gives back what was asked beyond the grant', async () => {
    const limiter = new RateLimiter(new MemoryStore(), 'q', { max: 4, duration: 60_000 });
    const now = 60_000 * 1_000;
    expect((await limiter.acquire(5, now)).granted).toBe(4);
    expect((await limiter.acquire(5, now)).granted).toBe(0);
    expect((await limiter.acquire(5, now)).granted).toBe(0);
    // The refused asks did not eat permits: the three given back are granted again, no more.
    const { windowEndsAt } = await limiter.acquire(0, now);
    await limiter.release(3, windowEndsAt, now);
    expect((await limiter.acquire(8, now)).granted).toBe(3);
    expect((await limiter.acquire(1, now)).granted).toBe(0);
    // A window that is over takes nothing back, and the next window starts full.
    await limiter.release(3, windowEndsAt, windowEndsAt);
    expect((await limiter.acquire(9, windowEndsAt)).granted).toBe(4);
  });
});
