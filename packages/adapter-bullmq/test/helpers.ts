import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { BullmqDriver, type BullmqDriverOptions } from '../src/index.js';

/** Redis used by the tests. */
export const REDIS_URL = process.env.QUEUEKIT_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix of its own for one test (or one file), so tests never see each other's keys. */
export function uniquePrefix(label: string): string {
  return `qkt-${label}-${randomUUID().slice(0, 8)}`;
}

/** A unique queue name. */
export function uniqueQueue(label = 'q'): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

/** A driver on the test Redis under `prefix`. */
export function testDriver(prefix: string, options: BullmqDriverOptions = {}): BullmqDriver {
  return new BullmqDriver({ url: REDIS_URL, prefix, ...options });
}

/** An ioredis connection for assertions and cleanup; disconnect it when done. */
export function adminRedis(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: null });
}

/** Delete every key under `prefix`. */
export async function deletePrefix(prefix: string): Promise<number> {
  const redis = adminRedis();
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

/** Poll `check` until it returns a value other than `undefined`, or fail after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
