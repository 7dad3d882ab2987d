import { inspect } from 'node:util';
import {
  ConfigError,
  QueueClosedError,
  type Store,
  type StoreSetOptions,
  type StoreTtlOptions,
} from '@queuekit/core';
import { Redis, type RedisOptions } from 'ioredis';
import { decode, encode, toPairs } from './codec.js';
import { translateError } from './errors.js';
import { scripts } from './scripts.js';
import { parseStoreUrl } from './url.js';

/** Options of {@link RedisStore} and {@link createRedisStore}: give `url` or `client`. */
export interface RedisStoreOptions {
  /**
   * `redis://[[user]:password@]host[:port][/db]`, or `rediss://...` for TLS. The store opens its own
   * connection and closes it in `close()`. The password never appears in errors.
   */
  readonly url?: string;
  /** An existing ioredis connection. The store borrows it: `close()` leaves it open. */
  readonly client?: Redis;
  /** Prepended to every key (default `qk:store:`), so several apps can share a database. */
  readonly prefix?: string;
  /**
   * Extra ioredis options for the connection opened from `url` (e.g. `tls` settings). The store's
   * defaults, `maxRetriesPerRequest: 2` and `connectTimeout: 5000`, make an unreachable server fail
   * fast with `BrokerUnavailableError` instead of queueing commands forever.
   */
  readonly redisOptions?: RedisOptions;
}

/** Default key prefix. */
export const DEFAULT_REDIS_STORE_PREFIX = 'qk:store:';

const SCAN_COUNT = 500;

/** Escape Redis glob metacharacters so that `text` matches literally in `SCAN MATCH`. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

function ttlOf(options: StoreTtlOptions): number {
  const ttl = options.ttlMs ?? 0;
  return Number.isFinite(ttl) && ttl > 0 ? Math.ceil(ttl) : 0;
}

/**
 * A {@link Store} on Redis, shared by every process that uses the same server and prefix.
 * Scalars, arrays and the empty object are JSON strings; non-empty objects are hashes with one
 * JSON-encoded field per property, so `merge` is an atomic `HSET`. `set` with `ifAbsent` is
 * `SET NX PX`; `merge` and `increment` are small Lua scripts. TTLs use Redis expiry (ms precision).
 * Standalone Redis (or a primary) only: not Redis Cluster, as `keys` scans one node.
 */
export class RedisStore implements Store {
  /** One connection: commands apply in the order they are sent. */
  readonly ordered = true;
  // ES private fields: util.inspect and JSON never show them (the client holds the password).
  readonly #client: Redis;
  readonly #owned: boolean;
  readonly #prefix: string;
  readonly #where: string;
  readonly #secrets: readonly string[];
  #closed = false;

  constructor(options: RedisStoreOptions) {
    if (options.url && options.client)
      throw new ConfigError('url', 'give either `url` or `client`, not both');
    this.#prefix = options.prefix ?? DEFAULT_REDIS_STORE_PREFIX;
    if (options.client) {
      this.#client = options.client;
      this.#owned = false;
      const { host, port } = options.client.options;
      this.#where = `${host ?? 'localhost'}:${port ?? 6379}`;
    } else if (options.url) {
      const parsed = parseStoreUrl(options.url);
      const tls = parsed.redis.tls && { ...parsed.redis.tls, ...options.redisOptions?.tls };
      this.#client = new Redis({
        ...parsed.redis,
        maxRetriesPerRequest: 2,
        connectTimeout: 5000,
        ...options.redisOptions,
        ...(tls ? { tls } : {}),
      });
      // Failures surface through the commands; without a listener ioredis prints every retry.
      this.#client.on('error', () => undefined);
      this.#owned = true;
      this.#where = parsed.where;
    } else {
      throw new ConfigError('url', 'give `url` (redis:// or rediss://) or an ioredis `client`');
    }
    const { password } = this.#client.options;
    this.#secrets = password ? [password] : [];
  }

  /** What the store shows of itself: the server address and prefix, never the credentials. */
  toJSON(): { store: 'redis'; at: string; prefix: string } {
    return { store: 'redis', at: this.#where, prefix: this.#prefix };
  }

  toString(): string {
    return `RedisStore(${this.#where}, prefix ${JSON.stringify(this.#prefix)})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }

  private async call<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new QueueClosedError('The Redis store is closed');
    try {
      return await operation();
    } catch (error) {
      return translateError(error, this.#where, this.#secrets);
    }
  }

  async get<V = unknown>(key: string): Promise<V | undefined> {
    const reply = await this.call(() => scripts.get.run(this.#client, this.#prefix + key, []));
    return decode(reply) as V | undefined;
  }

  async set(key: string, value: unknown, options: StoreSetOptions = {}): Promise<boolean> {
    const ttl = ttlOf(options);
    const full = this.#prefix + key;
    const encoded = encode(value);
    return this.call(async () => {
      if (encoded.kind === 'hash') {
        const done = await scripts.setHash.run(this.#client, full, [
          options.ifAbsent ? '1' : '0',
          ttl,
          ...encoded.pairs,
        ]);
        return done === 1;
      }
      let reply: string | null;
      if (options.ifAbsent) {
        reply = ttl
          ? await this.#client.set(full, encoded.json, 'PX', ttl, 'NX')
          : await this.#client.set(full, encoded.json, 'NX');
      } else {
        reply = ttl
          ? await this.#client.set(full, encoded.json, 'PX', ttl)
          : await this.#client.set(full, encoded.json);
      }
      return reply === 'OK';
    });
  }

  async merge(
    key: string,
    patch: Readonly<Record<string, unknown>>,
    options: StoreTtlOptions = {},
  ): Promise<void> {
    const pairs = toPairs(patch);
    await this.call(() => scripts.merge.run(this.#client, this.#prefix + key, [ttlOf(options), ...pairs]));
  }

  async increment(key: string, by = 1, options: StoreTtlOptions = {}): Promise<number> {
    if (!Number.isFinite(by)) throw new ConfigError('by', 'must be a finite number');
    const integer = Number.isSafeInteger(by);
    const reply = await this.call(() =>
      scripts.increment.run(this.#client, this.#prefix + key, [
        String(by),
        ttlOf(options),
        integer ? '1' : '0',
      ]),
    );
    return Number(reply);
  }

  async delete(key: string): Promise<void> {
    await this.call(() => this.#client.del(this.#prefix + key));
  }

  async keys(prefix: string): Promise<string[]> {
    // SCAN ignores ioredis' `keyPrefix`, so match and strip it by hand.
    const outer = (this.#client.options.keyPrefix ?? '') + this.#prefix;
    const pattern = `${escapeGlob(outer + prefix)}*`;
    return this.call(async () => {
      const found = new Set<string>();
      let cursor = '0';
      do {
        const [next, batch] = await this.#client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT);
        for (const full of batch) found.add(full.slice(outer.length));
        cursor = next;
      } while (cursor !== '0');
      return [...found];
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#owned) return;
    if (this.#client.status === 'ready') {
      await this.#client.quit().catch(() => this.#client.disconnect());
    } else {
      this.#client.disconnect();
    }
  }
}

/**
 * Create a {@link RedisStore}.
 *
 * @example
 * const store = createRedisStore({ url: 'redis://127.0.0.1:6379', prefix: 'myapp:' });
 * await store.set('lease:nightly', { owner: 'worker-1' }, { ifAbsent: true, ttlMs: 30_000 });
 */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  return new RedisStore(options);
}
