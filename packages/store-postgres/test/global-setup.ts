import { redactUrl } from '@queuekit/core';
import pg from 'pg';
import { POSTGRES_URL } from './helpers.js';

/** Fail in one line, with the fix, when the test PostgreSQL is not running. */
export default async function setup(): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (cause) {
    const reason =
      cause instanceof Error ? cause.message || (cause as { code?: string }).code : String(cause);
    const error = new Error(
      `PostgreSQL is not reachable for the store tests at ${redactUrl(POSTGRES_URL)} (QUEUEKIT_POSTGRES_URL): ${reason}; start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`,
    );
    // One line and a failing exit code: a thrown error would also make vitest print "No test files found".
    console.error(error.message);
    process.exit(1);
  } finally {
    await client.end().catch(() => undefined);
  }
}
