import { describeStoreConformance } from '@queuekit/conformance';
import { afterAll } from 'vitest';
import { createPostgresStore } from '../src/index.js';
import { dropTable, POSTGRES_URL, rawPool, uniqueTable } from './helpers.js';

// One table per run, dropped at the end.
const table = uniqueTable();

afterAll(async () => {
  const pool = rawPool();
  await dropTable(pool, table);
  await pool.end();
});

describeStoreConformance('postgres', () => createPostgresStore({ connectionString: POSTGRES_URL, table }));
