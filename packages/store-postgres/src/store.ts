import { inspect } from 'node:util';
import {
  ConfigError,
  QueueClosedError,
  Scrubber,
  type Store,
  type StoreMerge,
  type StoreSetOptions,
  type StoreTtlOptions,
} from '@queuekit/core';
import { Pool, type PoolConfig } from 'pg';
import { checkConnectionString } from './connection.js';
import { translateError } from './errors.js';
import { likePrefix, type Statements, statementsFor } from './sql.js';

/** Options of {@link PostgresStore} and {@link createPostgresStore}: give `connectionString` or `pool`. */
export interface PostgresStoreOptions {
  /**
   * `postgres://user[:password]@host[:port]/database[?sslmode=require]`. The store opens its own pool
   * and ends it in `close()`. The password never appears in errors.
   */
  readonly connectionString?: string;
  /** An existing `pg` pool. The store borrows it: `close()` leaves it open. */
  readonly pool?: Pool;
  /** The table (`name` or `schema.name`), created if missing; default `queuekit_store`. */
  readonly table?: string;
  /** Create the table and its index when missing (default true). Turn off when migrations own the schema. */
  readonly createTable?: boolean;
  /**
   * Delete expired rows at most this often, in the background of a write (default 60 000 ms; 0 turns
   * it off). Expired rows are invisible to reads either way; pruning only reclaims space.
   */
  readonly pruneIntervalMs?: number;
  /** Extra `pg` pool settings for the pool opened from `connectionString` (e.g. `ssl`, `max`). */
  readonly poolConfig?: PoolConfig;
}

/** Default table name. */
export const DEFAULT_POSTGRES_STORE_TABLE = 'queuekit_store';

const PRUNE_BATCH = 1000;

function ttlOf(options: StoreTtlOptions): number {
  const ttl = options.ttlMs ?? 0;
  return Number.isFinite(ttl) ? Math.max(ttl, 0) : 0;
}

/** JSON text of a value; `undefined` (not JSON) is stored as `null`. */
function toJson(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

/**
 * A {@link Store} on PostgreSQL: one table `(key text primary key, value jsonb, expires_at timestamptz)`.
 * Every operation is one statement: claims, merges and increments are `INSERT ... ON CONFLICT DO UPDATE`
 * upserts, atomic under concurrency. Expiry uses the database's clock; expired rows are invisible to
 * reads and claims and are deleted opportunistically (and by {@link PostgresStore.prune}).
 */
export class PostgresStore implements Store {
  // ES private: util.inspect and JSON never show them (the pool keeps the connection string).
  readonly #pool: Pool;
  readonly #owned: boolean;
  readonly #where: string;
  readonly #scrubber: Scrubber;
  readonly #table: string;
  private readonly sql: Statements;
  private readonly lockKey: string;
  private readonly createTable: boolean;
  private readonly pruneIntervalMs: number;
  private ready: Promise<void> | undefined;
  private lastPrune = 0;
  private pruning: Promise<unknown> | undefined;
  private closed = false;

  constructor(options: PostgresStoreOptions) {
    if (options.connectionString && options.pool) {
      throw new ConfigError('connectionString', 'give either `connectionString` or `pool`, not both');
    }
    const table = options.table ?? DEFAULT_POSTGRES_STORE_TABLE;
    this.#table = table;
    this.sql = statementsFor(table);
    this.lockKey = `queuekit-store:${table}`;
    this.createTable = options.createTable ?? true;
    this.pruneIntervalMs = options.pruneIntervalMs ?? 60_000;
    if (options.pool) {
      this.#pool = options.pool;
      this.#owned = false;
      const { host, port } = options.pool.options;
      this.#where = `${host ?? 'localhost'}:${port ?? 5432}`;
    } else if (options.connectionString) {
      const target = checkConnectionString(options.connectionString);
      this.#pool = new Pool({
        connectionString: options.connectionString,
        connectionTimeoutMillis: 10_000,
        ...options.poolConfig,
      });
      // An idle client losing its connection is reported here; the next query reconnects.
      this.#pool.on('error', () => undefined);
      this.#owned = true;
      this.#where = target.where;
    } else {
      throw new ConfigError('connectionString', 'give `connectionString` (postgres://...) or a `pg` `pool`');
    }
    // The connection string's secrets, and a password given as a pool option (as if in a URL).
    const password = this.#pool.options.password;
    this.#scrubber = new Scrubber([
      options.connectionString,
      typeof password === 'string' && password !== ''
        ? `postgres://:${encodeURIComponent(password)}@host`
        : undefined,
    ]);
  }

  /** What the store shows of itself: the server address and table, never the credentials. */
  toJSON(): { store: 'postgres'; at: string; table: string } {
    return { store: 'postgres', at: this.#where, table: this.#table };
  }

  toString(): string {
    return `PostgresStore(${this.#where}, table ${this.#table})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  /** Create the table once per store (serialised across processes by an advisory lock). */
  private ensureTable(): Promise<void> {
    if (!this.createTable) return Promise.resolve();
    this.ready ??= (async () => {
      const client = await this.#pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [this.lockKey]);
        for (const statement of this.sql.createTable) await client.query(statement);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    })().catch((error: unknown) => {
      this.ready = undefined; // try again on the next call
      throw error;
    });
    return this.ready;
  }

  private async query<R extends Record<string, unknown>>(text: string, values: readonly unknown[]) {
    if (this.closed) throw new QueueClosedError('The PostgreSQL store is closed');
    try {
      await this.ensureTable();
      return await this.#pool.query<R>(text, values as unknown[]);
    } catch (error) {
      return translateError(this.#scrubber.error(error), this.#where);
    }
  }

  /** After a write: prune in the background when the interval has passed. */
  private maybePrune(): void {
    if (this.pruneIntervalMs <= 0 || this.pruning || this.closed) return;
    const now = Date.now();
    if (now - this.lastPrune < this.pruneIntervalMs) return;
    this.lastPrune = now;
    this.pruning = this.prune()
      .catch(() => undefined)
      .finally(() => {
        this.pruning = undefined;
      });
  }

  async get<V = unknown>(key: string): Promise<V | undefined> {
    const result = await this.query<{ value: V }>(this.sql.get, [key]);
    return result.rows[0]?.value;
  }

  async set(key: string, value: unknown, options: StoreSetOptions = {}): Promise<boolean> {
    const statement = options.ifAbsent ? this.sql.claim : this.sql.set;
    const result = await this.query(statement, [key, toJson(value), ttlOf(options)]);
    this.maybePrune();
    return result.rowCount === 1;
  }

  async merge(
    key: string,
    patch: Readonly<Record<string, unknown>>,
    options: StoreTtlOptions = {},
  ): Promise<void> {
    await this.query(this.sql.merge, [key, toJson(patch), ttlOf(options)]);
    this.maybePrune();
  }

  /**
   * Every merge in one statement (one round trip, one transaction: all applied or none). Writes that touch
   * one key twice, which one statement cannot, are applied one `merge` after the other instead.
   */
  async mergeMany(writes: readonly StoreMerge[]): Promise<void> {
    const keys = new Set(writes.map((w) => w.key));
    if (keys.size < writes.length) {
      for (const { key, patch, options } of writes) await this.merge(key, patch, options);
      return;
    }
    if (writes.length === 0) return;
    const batch = writes.map(({ key, patch, options }) => ({ k: key, v: patch, t: ttlOf(options ?? {}) }));
    await this.query(this.sql.mergeMany, [toJson(batch)]);
    this.maybePrune();
  }

  async increment(key: string, by = 1, options: StoreTtlOptions = {}): Promise<number> {
    if (!Number.isFinite(by)) throw new ConfigError('by', 'must be a finite number');
    const result = await this.query<{ value: number }>(this.sql.increment, [key, String(by), ttlOf(options)]);
    this.maybePrune();
    return Number(result.rows[0]?.value);
  }

  async delete(key: string): Promise<void> {
    await this.query(this.sql.delete, [key]);
  }

  async keys(prefix: string): Promise<string[]> {
    const result = await this.query<{ key: string }>(this.sql.keys, [likePrefix(prefix)]);
    return result.rows.map((row) => row.key);
  }

  /**
   * Delete every expired row now, in batches, and resolve how many were deleted. Writes call it in
   * the background every `pruneIntervalMs`; call it yourself (e.g. from a cron job) when the store
   * is read far more than written.
   */
  async prune(): Promise<number> {
    let total = 0;
    for (;;) {
      const result = await this.query(this.sql.prune, [PRUNE_BATCH]);
      total += result.rowCount ?? 0;
      if ((result.rowCount ?? 0) < PRUNE_BATCH) return total;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.pruning;
    this.closed = true;
    if (this.#owned) await this.#pool.end();
  }
}

/**
 * Create a {@link PostgresStore}.
 *
 * @example
 * const store = createPostgresStore({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' });
 * await store.merge('job:42', { state: 'completed' }, { ttlMs: 3_600_000 });
 */
export function createPostgresStore(options: PostgresStoreOptions): PostgresStore {
  return new PostgresStore(options);
}
