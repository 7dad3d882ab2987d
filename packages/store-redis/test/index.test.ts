import { describeStoreConformance, until } from '@queuekit/conformance';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue } from '@queuekit/core';
import { createRedisStore, type RedisStore } from '../src/index.js';
import { scripts } from '../src/scripts.js';
import { deleteUnder, REDIS_URL, rawClient, uniquePrefix } from './helpers.js';

/** An ioredis connection that counts the commands it sends, by name. */
function countingClient(): { client: Redis; counts: Map<string, number> } {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
  const counts = new Map<string, number>();
  const send = client.sendCommand.bind(client);
  client.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    counts.set(command.name, (counts.get(command.name) ?? 0) + 1);
    return (send as (...args: unknown[]) => unknown)(command, ...rest);
  }) as Redis['sendCommand'];
  return { client, counts };
}

const schedules = 'qk:sched:reports:def:';

describe('RedisStore keys(): an index of the listed keys instead of a database scan', () => {
  const prefix = uniquePrefix();
  const raw = rawClient();
  let store: RedisStore;
  let counting: ReturnType<typeof countingClient>;

  beforeAll(async () => {
    // 50k unrelated keys under the same prefix (job records of a busy queue).
    for (let start = 0; start < 50_000; start += 5000) {
      const pipeline = raw.pipeline();
      for (let i = start; i < start + 5000; i++)
        pipeline.set(`${prefix}qk:job:reports:${i}`, '{}', 'EX', 600);
      await pipeline.exec();
    }
    counting = countingClient();
    store = createRedisStore({ client: counting.client, prefix });
  }, 120_000);

  afterAll(async () => {
    await store.close();
    counting.client.disconnect();
    await deleteUnder(raw, prefix);
    await raw.quit();
  });

  it('lists schedules with no SCAN once the index exists, one round trip a call', async () => {
    await store.set(`${schedules}nightly`, { cron: '0 3 * * *' });
    await store.set(`${schedules}hourly`, { every: 3_600_000 });
    await store.set('qk:sched:reports:tick:nightly:1', 'running', { ttlMs: 30_000 });
    expect((await store.keys(schedules)).sort()).toEqual([`${schedules}hourly`, `${schedules}nightly`]);
    counting.counts.clear();
    // What a consumer's schedule runner does for about 5 s at two polls a second.
    for (let poll = 0; poll < 10; poll++) {
      expect(await store.keys(schedules)).toHaveLength(2);
    }
    expect(counting.counts.get('scan') ?? 0).toBe(0);
    const total = [...counting.counts.values()].reduce((sum, n) => sum + n, 0);
    expect(total).toBeLessThanOrEqual(10);
  });

  it('follows deletes, expiry and merges', async () => {
    await store.delete(`${schedules}hourly`);
    await store.merge(`${schedules}weekly`, { cron: '0 0 * * 0' });
    await store.set(`${schedules}short`, 1, { ttlMs: 200 });
    await store.increment(`${schedules}counter`);
    expect((await store.keys(schedules)).sort()).toEqual(
      [`${schedules}counter`, `${schedules}nightly`, `${schedules}short`, `${schedules}weekly`].sort(),
    );
    await until(
      'the expired key to leave the listing',
      10_000,
      async () => !(await store.keys(schedules)).includes(`${schedules}short`),
    );
    expect((await store.keys(schedules)).sort()).toEqual(
      [`${schedules}counter`, `${schedules}nightly`, `${schedules}weekly`].sort(),
    );
  });

  it('a consumer running schedules over the store lists them without SCAN (the public API)', async () => {
    const queue = createQueue<{ n: number }>({ name: 'reports-e2e', driver: createMemoryDriver(), store });
    try {
      await queue.schedule('every-second', { every: 1000, data: { n: 1 } });
      let listings = 0;
      const sha = scripts.list.sha;
      const send = counting.client.sendCommand.bind(counting.client);
      counting.client.sendCommand = ((command: { name: string; args: unknown[] }, ...rest: unknown[]) => {
        if (command.name === 'evalsha' && String(command.args[0]) === sha) listings++;
        return (send as (...args: unknown[]) => unknown)(command, ...rest);
      }) as Redis['sendCommand'];
      counting.counts.clear();
      const runs: number[] = [];
      queue.process(async (job) => {
        runs.push(job.data.n);
      });
      // Each scheduler round lists the schedules twice (due ticks, then the next due time).
      await until('six schedule listings', 30_000, () => listings >= 6);
      expect(counting.counts.get('scan') ?? 0).toBe(0);
    } finally {
      await queue.close();
    }
  });

  it('finds keys written before the index existed (one scan, then none)', async () => {
    const fresh = uniquePrefix();
    await raw.set(`${fresh}qk:sched:old:def:legacy`, '{"every":1000}');
    const { client, counts } = countingClient();
    const older = createRedisStore({ client, prefix: fresh });
    try {
      expect(await older.keys('qk:sched:old:def:')).toEqual(['qk:sched:old:def:legacy']);
      counts.clear();
      expect(await older.keys('qk:sched:old:def:')).toEqual(['qk:sched:old:def:legacy']);
      expect(counts.get('scan') ?? 0).toBe(0);
    } finally {
      await older.close();
      client.disconnect();
      await deleteUnder(raw, fresh);
    }
  });
});

// The index path passes the store contract too (the default path scans; see conformance.test.ts).
const indexedPrefix = uniquePrefix();
describeStoreConformance('redis (indexed keys)', () =>
  createRedisStore({ url: REDIS_URL, prefix: indexedPrefix, indexPrefixes: ['qks-'] }),
);
