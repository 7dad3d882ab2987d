import { BrokerUnavailableError, ConfigError, QueueClosedError } from '@queuekit/core';
import { until } from '@queuekit/conformance';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore, type PostgresStore } from '../src/index.js';
import { dropTable, POSTGRES_URL, rawPool, uniqueTable } from './helpers.js';

const tables: string[] = [];
let raw: pg.Pool;

/** A store on a fresh table of this run (dropped in afterAll). */
function storeOn(table = uniqueTable(), options: { pruneIntervalMs?: number } = {}): PostgresStore {
  tables.push(table);
  return createPostgresStore({ connectionString: POSTGRES_URL, table, ...options });
}

async function rowCount(table: string): Promise<number> {
  const result = await raw.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(result.rows[0]?.n);
}

async function secondsLeft(table: string, key: string): Promise<number | null> {
  const result = await raw.query<{ s: number | null }>(
    `SELECT extract(epoch FROM expires_at - now())::float8 AS s FROM ${table} WHERE key = $1`,
    [key],
  );
  return result.rows[0]?.s ?? null;
}

beforeAll(() => {
  raw = rawPool();
});

afterAll(async () => {
  for (const table of tables) await dropTable(raw, table);
  await raw.end();
});

describe('PostgresStore table and semantics', () => {
  const table = uniqueTable();
  let store: PostgresStore;

  beforeAll(() => {
    store = storeOn(table);
  });

  afterAll(async () => {
    await store.close();
  });

  it('creates one table (key text primary key, value jsonb, expires_at timestamptz) on first use', async () => {
    await store.set('job:1', { state: 'active' });
    const columns = await raw.query<{ column_name: string; data_type: string }>(
      'SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position',
      [table],
    );
    expect(columns.rows).toEqual([
      { column_name: 'key', data_type: 'text' },
      { column_name: 'value', data_type: 'jsonb' },
      { column_name: 'expires_at', data_type: 'timestamp with time zone' },
    ]);
    const row = await raw.query(`SELECT value FROM ${table} WHERE key = 'job:1'`);
    expect(row.rows[0]?.value).toEqual({ state: 'active' });
  });

  it('round-trips JSON shapes: the empty object, null, arrays, strings, numbers, booleans', async () => {
    const values: unknown[] = [{}, null, [], [1, { a: 2 }], 'text', 0, -1.25, true, { nested: { deep: [] } }];
    for (const [i, value] of values.entries()) {
      await store.set(`shape:${i}`, value);
      expect(await store.get(`shape:${i}`)).toEqual(value);
    }
  });

  it('set replaces the value and its expiry; set without ttlMs makes the key persistent', async () => {
    await store.set('swap', { a: 1 }, { ttlMs: 60_000 });
    await store.set('swap', 'plain');
    expect(await store.get('swap')).toBe('plain');
    expect(await secondsLeft(table, 'swap')).toBeNull();
  });

  it('merge with ttlMs resets the expiry; merge without keeps it', async () => {
    await store.merge('m', { a: 1 }, { ttlMs: 60_000 });
    await store.merge('m', { b: 2 });
    const kept = await secondsLeft(table, 'm');
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(60);
    await store.merge('m', { c: 3 }, { ttlMs: 600_000 });
    expect(await secondsLeft(table, 'm')).toBeGreaterThan(60);
    expect(await store.get('m')).toEqual({ a: 1, b: 2, c: 3 });
  });

  it('merge is shallow, replaces non-objects, and starts afresh (no TTL) over an expired row', async () => {
    await store.set('deep', { nested: { x: 1, y: 2 } });
    await store.merge('deep', { nested: { x: 9 } });
    expect(await store.get('deep')).toEqual({ nested: { x: 9 } });
    await store.set('list', [1, 2]);
    await store.merge('list', { a: 1 });
    expect(await store.get('list')).toEqual({ a: 1 });
    await store.set('old', { stale: true }, { ttlMs: 1 });
    await until('the row to expire', 5000, async () => (await store.get('old')) === undefined, 20);
    await store.merge('old', { fresh: true });
    expect(await store.get('old')).toEqual({ fresh: true });
    expect(await secondsLeft(table, 'old')).toBeNull();
  });

  it('mergeMany applies every merge in one statement, as merges one after the other would', async () => {
    await store.set('mm:list', [1]);
    await store.merge('mm:kept', { a: 1 }, { ttlMs: 60_000 });
    await store.mergeMany([
      { key: 'mm:new', patch: { state: 'waiting', n: 1 }, options: { ttlMs: 600_000 } },
      { key: 'mm:kept', patch: { b: 'it\'s "quoted"' } },
      { key: 'mm:list', patch: { replaced: true } },
    ]);
    expect(await store.get('mm:new')).toEqual({ state: 'waiting', n: 1 });
    expect(await secondsLeft(table, 'mm:new')).toBeGreaterThan(60);
    expect(await store.get('mm:kept')).toEqual({ a: 1, b: 'it\'s "quoted"' });
    const kept = await secondsLeft(table, 'mm:kept');
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(60);
    expect(await store.get('mm:list')).toEqual({ replaced: true });
    expect(await secondsLeft(table, 'mm:list')).toBeNull();
    // The same key twice (one statement cannot update a row twice): applied in order.
    await store.mergeMany([
      { key: 'mm:twice', patch: { state: 'active', a: 1 } },
      { key: 'mm:twice', patch: { state: 'completed' } },
    ]);
    expect(await store.get('mm:twice')).toEqual({ state: 'completed', a: 1 });
    await store.mergeMany([]);
  });

  it('mergeMany is all or nothing: one value PostgreSQL refuses fails the batch and applies none of it', async () => {
    // jsonb cannot hold U+0000: the error of one key.
    const batch = store.mergeMany([
      { key: 'mm:fine', patch: { state: 'waiting' } },
      { key: 'mm:nul', patch: { text: 'a\u0000b' } },
    ]);
    await expect(batch).rejects.toThrow();
    expect(await store.get('mm:fine')).toBeUndefined();
    await expect(store.merge('mm:nul', { text: 'a\u0000b' })).rejects.toThrow();
    await store.merge('mm:fine', { state: 'waiting' });
    expect(await store.get('mm:fine')).toEqual({ state: 'waiting' });
  });

  it('increment applies ttlMs only at creation, adds decimals exactly, and restarts non-numbers from 0', async () => {
    expect(await store.increment('win', 1, { ttlMs: 60_000 })).toBe(1);
    expect(await store.increment('win', 1, { ttlMs: 600_000 })).toBe(2);
    expect(await secondsLeft(table, 'win')).toBeLessThanOrEqual(60);
    expect(await store.increment('f', 0.1)).toBe(0.1);
    expect(await store.increment('f', 0.2)).toBe(0.3);
    await store.set('word', 'hello', { ttlMs: 60_000 });
    expect(await store.increment('word', 5)).toBe(5);
    expect(await secondsLeft(table, 'word')).toBeGreaterThan(0);
  });

  it('keys matches the prefix literally (% and _ are escaped)', async () => {
    await store.set('p%c:1', 1);
    await store.set('pXc:2', 2);
    await store.set('p_c:3', 3);
    await store.set('pYc:4', 4);
    expect(await store.keys('p%c')).toEqual(['p%c:1']);
    expect(await store.keys('p_c')).toEqual(['p_c:3']);
  });

  it('a closed store rejects calls with QueueClosedError', async () => {
    const other = storeOn(table);
    await other.get('x');
    await other.close();
    await expect(other.get('x')).rejects.toBeInstanceOf(QueueClosedError);
  });
});

describe('PostgresStore expiry and pruning', () => {
  it('expired rows are invisible to get, keys and claims before they are pruned, and prune() deletes them', async () => {
    const table = uniqueTable();
    const store = storeOn(table, { pruneIntervalMs: 0 });
    try {
      await store.set('lease', 'a', { ttlMs: 1, ifAbsent: true });
      await store.set('keep', 'b');
      await until('the lease to expire', 5000, async () => (await store.get('lease')) === undefined, 20);
      expect(await store.keys('')).toEqual(['keep']);
      expect(await rowCount(table)).toBe(2); // still there: invisible, not yet pruned
      expect(await store.set('lease', 'c', { ifAbsent: true, ttlMs: 60_000 })).toBe(true);
      expect(await store.get('lease')).toBe('c');
      await store.set('gone', 'x', { ttlMs: 1 });
      await until('the row to expire', 5000, async () => (await store.get('gone')) === undefined, 20);
      expect(await store.prune()).toBe(1);
      expect(await rowCount(table)).toBe(2);
    } finally {
      await store.close();
    }
  });

  it('writes prune expired rows in the background once the interval has passed', async () => {
    const table = uniqueTable();
    const store = storeOn(table, { pruneIntervalMs: 50 });
    try {
      for (let i = 0; i < 5; i++) await store.set(`short:${i}`, i, { ttlMs: 1 });
      await store.set('long', 'stays');
      await until(
        'the short rows to expire',
        5000,
        async () => (await store.keys('short:')).length === 0,
        20,
      );
      await until(
        'a write to prune the expired rows',
        10_000,
        async () => {
          await store.increment('tick');
          return (await rowCount(table)) === 2;
        },
        100,
      );
      expect(await store.get('long')).toBe('stays');
    } finally {
      await store.close();
    }
  });

  it('several stores creating the same table at once do not collide', async () => {
    const table = uniqueTable();
    const stores = Array.from({ length: 4 }, () => storeOn(table));
    try {
      const results = await Promise.all(stores.map((s, i) => s.set('winner', i, { ifAbsent: true })));
      expect(results.filter(Boolean)).toHaveLength(1);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('accepts a schema-qualified table name and rejects unsafe ones with ConfigError', async () => {
    const name = uniqueTable();
    const store = storeOn(`public.${name}`);
    try {
      await store.set('k', 1);
      expect(await rowCount(name)).toBe(1);
    } finally {
      await store.close();
    }
    expect(() => createPostgresStore({ connectionString: POSTGRES_URL, table: 'x; DROP TABLE y' })).toThrow(
      ConfigError,
    );
    expect(() => createPostgresStore({ connectionString: POSTGRES_URL, table: 'a.b.c' })).toThrow(
      ConfigError,
    );
  });
});

describe('PostgresStore connection handling', () => {
  it('an unreachable server gives BrokerUnavailableError without the password', async () => {
    const store = createPostgresStore({
      connectionString: 'postgres://u:s3cret-pw@127.0.0.1:1/test',
      table: 'unused',
    });
    try {
      const failure = await store.get('x').then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(BrokerUnavailableError);
      const text = `${(failure as Error).message} ${(failure as Error).stack}`;
      expect(text).toContain('127.0.0.1:1');
      expect(text).not.toContain('s3cret-pw');
    } finally {
      await store.close();
    }
  });

  it('a connection dropped mid-statement gives BrokerUnavailableError, then the store recovers', async () => {
    const table = uniqueTable();
    const name = `qk-store-test-${table.slice(-8)}`;
    tables.push(table);
    const store = createPostgresStore({
      connectionString: POSTGRES_URL,
      table,
      poolConfig: { application_name: name },
    });
    const locker = await raw.connect();
    try {
      await store.set('k', 'v');
      // Hold the row so that the store's next write waits in the server, then kill its backend.
      await locker.query('BEGIN');
      await locker.query(`SELECT 1 FROM ${table} WHERE key = 'k' FOR UPDATE`);
      const blocked = store.set('k', 'w').then(
        () => undefined,
        (error: unknown) => error,
      );
      await until('the store to wait on the row lock', 10_000, async () => {
        const waiting = await raw.query(
          "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
          [name],
        );
        return (waiting.rowCount ?? 0) > 0;
      });
      await raw.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
        name,
      ]);
      const failure = await blocked;
      expect(failure).toBeInstanceOf(BrokerUnavailableError);
      await locker.query('ROLLBACK');
      await until('the store to answer again', 10_000, () =>
        store.get('k').then(
          (value) => value === 'v',
          () => false,
        ),
      );
    } finally {
      locker.release();
      await store.close();
    }
  });

  it('a borrowed pool stays open after close()', async () => {
    const table = uniqueTable();
    tables.push(table);
    const pool = rawPool();
    const store = createPostgresStore({ pool, table });
    await store.set('k', { v: 1 });
    await store.close();
    const result = await pool.query(`SELECT value FROM ${table} WHERE key = 'k'`);
    expect(result.rows[0]?.value).toEqual({ v: 1 });
    await pool.end();
  });

  it('requires a connection string or a pool', () => {
    expect(() => createPostgresStore({})).toThrow(ConfigError);
  });
});
