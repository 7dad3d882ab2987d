import { createMemoryDriver, createQueue, MemoryBroker } from '@queuekit/core';
import { until } from '@queuekit/conformance';
import type pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../src/index.js';
import { dropTable, POSTGRES_URL, rawPool, uniqueTable } from './helpers.js';

const table = uniqueTable();
const raw: pg.Pool = rawPool();

afterAll(async () => {
  await dropTable(raw, table);
  await raw.end();
});

describe('job records on PostgreSQL', () => {
  it('a result PostgreSQL refuses fails only its own record; the jobs written with it keep theirs', async () => {
    const store = createPostgresStore({ connectionString: POSTGRES_URL, table });
    const queue = createQueue<number>({
      name: 'pg-records',
      driver: createMemoryDriver({ broker: new MemoryBroker() }),
      ownsDriver: true,
      store,
    });
    const errors: unknown[] = [];
    queue.on('error', (error) => errors.push(error));
    const completed: string[] = [];
    queue.on('completed', (job) => completed.push(job.id));
    try {
      const ids = await queue.sendBatch([1, 2, 3].map((data) => ({ name: 'n', data })));
      // jsonb cannot hold U+0000: job 2's result is refused, in the same batch of writes as the others'.
      queue.process(async (job) => ({ text: job.data === 2 ? 'a\u0000b' : 'fine' }), { concurrency: 3 });
      await until('three jobs done', 10_000, () => completed.length === 3);
      // Reported once per update the refused write carried (active and completed may share one write).
      await until('the refused write reported', 10_000, () => errors.length > 0);
      for (const error of errors) expect((error as Error).message).toMatch(/Unicode/);
      const [first, second, third] = await Promise.all(ids.map((id) => queue.getJob(id)));
      expect(first).toMatchObject({ state: 'completed', result: { text: 'fine' } });
      expect(third).toMatchObject({ state: 'completed', result: { text: 'fine' } });
      expect(second?.state).not.toBe('completed');
      expect(second?.result).toBeUndefined();
    } finally {
      await queue.close();
      await store.close();
    }
  });
});
