import { inspect } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresStore, type PostgresStore } from '../src/index.js';
import { dropTable, POSTGRES_URL, rawPool, uniqueTable } from './helpers.js';

// Sentinels as they come from base64 keys and password managers: `/`, `%`, `#` and spaces.
const PASSWORD = 'Pg/sentinel%pa#ss word+=';
const deep = (value: unknown) => inspect(value, { depth: 10 });

function leaks(text: string, secret: string): string[] {
  const forms = [
    secret,
    encodeURIComponent(secret),
    ...secret.split(/[/#%]/).filter((part) => part.length > 3),
  ];
  return forms.filter((form) => text.includes(form));
}

/** The test URL with the sentinel as password (the local server trusts, so any password connects). */
function withPassword(password: string): string {
  const url = new URL(POSTGRES_URL);
  url.password = encodeURIComponent(password);
  return url.toString();
}

const table = uniqueTable();
const stores: PostgresStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  const pool = rawPool();
  await dropTable(pool, table);
  await pool.end();
});

describe('PostgresStore keeps secrets out of output', () => {
  it.each([
    ['a raw `/` in the password', 'postgres://app:pa/ss-sentinel@127.0.0.1:5432/test', 'pa/ss-sentinel'],
    ['a bad port', 'postgres://app:s3cret-sentinel@127.0.0.1:notaport/test', 's3cret-sentinel'],
    ['a space in the host', 'postgresql://app:s3cret-sentinel@bad host/test', 's3cret-sentinel'],
  ])('a bad connection string (%s) is ConfigError("connectionString") without it', async (_, bad, secret) => {
    let error: unknown;
    try {
      const store = createPostgresStore({ connectionString: bad, table });
      stores.push(store);
      await store.get('x');
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toMatchObject({ code: 'ERR_CONFIG', field: 'connectionString' });
    expect(deep(error)).not.toContain(secret);
    expect(error).not.toHaveProperty('input');
  });

  it('a store on a password with `/`, `%`, `#` and spaces works and never shows it', async () => {
    const store = createPostgresStore({ connectionString: withPassword(PASSWORD), table });
    stores.push(store);
    await store.set('k', { ok: true });
    expect(await store.get('k')).toEqual({ ok: true });
    expect(leaks(deep(store), PASSWORD)).toEqual([]);
    expect(leaks(JSON.stringify(store), PASSWORD)).toEqual([]);
    expect(leaks(String(store), PASSWORD)).toEqual([]);
  });

  it('an unreachable server fails without the password in the error chain', async () => {
    const url = new URL(withPassword(PASSWORD));
    url.port = '1';
    const store = createPostgresStore({
      connectionString: url.toString(),
      table,
      poolConfig: { connectionTimeoutMillis: 2000 },
    });
    stores.push(store);
    const failure = await store.get('x').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: 'ERR_BROKER_UNAVAILABLE' });
    expect(leaks(deep(failure), PASSWORD)).toEqual([]);
    expect(leaks(String((failure as Error).stack), PASSWORD)).toEqual([]);
  });
});
