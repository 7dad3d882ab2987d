import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

/** The test server (`QUEUEKIT_REDIS_URL`, default the local Redis). */
export const REDIS_URL = process.env.QUEUEKIT_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test run uses. */
export function uniquePrefix(): string {
  return `qk-test:${randomUUID().slice(0, 8)}:`;
}

/** A raw ioredis connection for assertions on the stored layout. */
export function rawClient(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
}

/** Delete every key under `prefix` (the test's own keys only). */
export async function deleteUnder(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    if (keys.length > 0) await client.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
