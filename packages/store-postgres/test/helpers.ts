import { randomUUID } from 'node:crypto';
import pg from 'pg';

/** The test database (`QUEUEKIT_POSTGRES_URL`, default the local server's `test` database). */
export const POSTGRES_URL = process.env.QUEUEKIT_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A table name no other test run uses. */
export function uniqueTable(): string {
  return `qk_store_test_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
}

/** A raw pool for assertions on the table and for cleanup. */
export function rawPool(): pg.Pool {
  return new pg.Pool({ connectionString: POSTGRES_URL, max: 2 });
}

/** Drop a test table (the run's own table only). */
export async function dropTable(pool: pg.Pool, table: string): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${table}`);
}
