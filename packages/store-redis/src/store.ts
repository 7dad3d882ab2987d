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
import { type ChainableCommander, Redis, type RedisOptions } from 'ioredis';
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
  /**
   * Keys under these prefixes are recorded in an index (two sorted sets under the store prefix),
   * so that `keys()` of a prefix under one of them reads the index in one round trip instead of
   * scanning the whole database. Default `['qk:sched:']`: the core lists its schedules there a few
   * times a second per consumer. `keys()` of any other prefix scans.
   */
  readonly indexPrefixes?: readonly string[];
}

/** Default key prefix. */
export const DEFAULT_REDIS_STORE_PREFIX = 'qk:store:';

const SCAN_COUNT = 500;
/** The one-time index backfill walks the whole database: bigger steps, fewer round trips. */
const BACKFILL_SCAN_COUNT = 10_000;

/** Merges per `mergeMany` script call at most: bounds how long one call holds the server. */
const MERGES_PER_CALL = 200;
/** Prefixes indexed by default: the core's schedule definitions and ticks. */
const DEFAULT_INDEX_PREFIXES = ['qk:sched:'] as const;
/** Names of the index keys after the store prefix. NUL keeps them apart from any key the core writes. */
const INDEX = '\u0000index';
const EXPIRY = '\u0000expiry';
const BUILT = '\u0000indexed';

/** Escape Redis glob metacharacters so that `text` matches literally in `SCAN MATCH`. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** `SET` modifiers for a TTL (ms, 0: none) and `ifAbsent`. */
function setModifiers(ttl: number, ifAbsent: boolean | undefined): string[] {
  return [...(ttl ? ['PX', String(ttl)] : []), ...(ifAbsent ? ['NX'] : [])];
}

/** The replies of a MULTI / pipeline; throws the first command error. */
function execReplies(replies: [Error | null, unknown][] | null): unknown[] {
  if (!replies) throw new Error('Redis transaction aborted');
  for (const [error] of replies) if (error) throw error;
  return replies.map(([, value]) => value);
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
  readonly #scrubber: Scrubber;
  readonly #indexPrefixes: readonly string[];
  #closed = false;

  constructor(options: RedisStoreOptions) {
    if (options.url && options.client)
      throw new ConfigError('url', 'give either `url` or `client`, not both');
    this.#prefix = options.prefix ?? DEFAULT_REDIS_STORE_PREFIX;
    this.#indexPrefixes = [...(options.indexPrefixes ?? DEFAULT_INDEX_PREFIXES)];
    if (this.#indexPrefixes.some((p) => typeof p !== 'string' || p === ''))
      throw new ConfigError('indexPrefixes', 'must be non-empty strings');
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
    // The URL's secrets, and a password given as an ioredis option (as if in a URL, for secretsOf).
    const { password } = this.#client.options;
    this.#scrubber = new Scrubber([
      options.url,
      password ? `redis://:${encodeURIComponent(password)}@host` : undefined,
    ]);
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
      return translateError(error, this.#where, this.#scrubber);
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
    if (this.#indexed(key)) {
      return this.call(async () => {
        const reply = await this.#tracked(key, (multi) => {
          if (encoded.kind === 'hash')
            multi.eval(scripts.setHash.source, 1, full, options.ifAbsent ? '1' : '0', ttl, ...encoded.pairs);
          else multi.call('SET', full, encoded.json, ...setModifiers(ttl, options.ifAbsent));
        });
        return reply === 1 || reply === 'OK';
      });
    }
    return this.call(async () => {
      if (encoded.kind === 'hash') {
        const done = await scripts.setHash.run(this.#client, full, [
          options.ifAbsent ? '1' : '0',
          ttl,
          ...encoded.pairs,
        ]);
        return done === 1;
      }
      const reply = await this.#client.call(
        'SET',
        full,
        encoded.json,
        ...setModifiers(ttl, options.ifAbsent),
      );
      return reply === 'OK';
    });
  }

  async merge(
    key: string,
    patch: Readonly<Record<string, unknown>>,
    options: StoreTtlOptions = {},
  ): Promise<void> {
    const pairs = toPairs(patch);
    const full = this.#prefix + key;
    if (this.#indexed(key)) {
      await this.call(() =>
        this.#tracked(key, (multi) => multi.eval(scripts.merge.source, 1, full, ttlOf(options), ...pairs)),
      );
      return;
    }
    await this.call(() => scripts.merge.run(this.#client, full, [ttlOf(options), ...pairs]));
  }

  /**
   * The merges in order, up to {@link MERGES_PER_CALL} per script call (one command where `merge` sends one
   * each). Not atomic: on an error the earlier merges stay applied. Keys under `indexPrefixes` go through
   * `merge` (each one is indexed in its own transaction).
   */
  async mergeMany(writes: readonly StoreMerge[]): Promise<void> {
    if (writes.some((w) => this.#indexed(w.key))) {
      await Promise.all(writes.map((w) => this.merge(w.key, w.patch, w.options)));
      return;
    }
    const calls: Promise<unknown>[] = [];
    for (let from = 0; from < writes.length; from += MERGES_PER_CALL) {
      const keys: string[] = [];
      const args: (string | number)[] = [];
      for (const { key, patch, options } of writes.slice(from, from + MERGES_PER_CALL)) {
        const pairs = toPairs(patch);
        keys.push(this.#prefix + key);
        args.push(ttlOf(options ?? {}), pairs.length, ...pairs);
      }
      calls.push(this.call(() => scripts.mergeMany.run(this.#client, keys, args)));
    }
    await Promise.all(calls);
  }

  async increment(key: string, by = 1, options: StoreTtlOptions = {}): Promise<number> {
    if (!Number.isFinite(by)) throw new ConfigError('by', 'must be a finite number');
    const integer = Number.isSafeInteger(by);
    const full = this.#prefix + key;
    const args = [String(by), ttlOf(options), integer ? '1' : '0'] as const;
    const reply = await this.call(() =>
      this.#indexed(key)
        ? this.#tracked(key, (multi) => multi.eval(scripts.increment.source, 1, full, ...args))
        : scripts.increment.run(this.#client, full, args),
    );
    return Number(reply);
  }

  async delete(key: string): Promise<void> {
    if (this.#indexed(key)) {
      await this.call(() =>
        this.#client
          .multi()
          .del(this.#prefix + key)
          .zrem(this.#prefix + INDEX, key)
          .zrem(this.#prefix + EXPIRY, key)
          .exec()
          .then(execReplies),
      );
      return;
    }
    await this.call(() => this.#client.del(this.#prefix + key));
  }

  async keys(prefix: string): Promise<string[]> {
    if (this.#indexPrefixes.some((indexed) => prefix.startsWith(indexed))) {
      return this.call(async () => {
        const listed = await this.#list(prefix);
        if (listed) return listed;
        await this.#buildIndex();
        return (await this.#list(prefix)) ?? [];
      });
    }
    return this.call(async () => (await this.#scan(prefix)).filter((key) => !key.startsWith('\u0000')));
  }

  #indexed(key: string): boolean {
    return this.#indexPrefixes.some((prefix) => key.startsWith(prefix));
  }

  /** Run the write queued by `write` and record the key in the index, atomically; the write's reply. */
  async #tracked(key: string, write: (multi: ChainableCommander) => unknown): Promise<unknown> {
    const multi = this.#client.multi();
    write(multi);
    multi.eval(scripts.track.source, 3, this.#prefix + key, this.#prefix + INDEX, this.#prefix + EXPIRY, key);
    const [reply] = execReplies(await multi.exec());
    return reply;
  }

  /** Live indexed keys starting with `prefix`; `undefined` when the index was never built. */
  async #list(prefix: string): Promise<string[] | undefined> {
    const p = this.#prefix;
    const reply = await scripts.list.run(
      this.#client,
      [p + INDEX, p + EXPIRY, p + BUILT],
      [this.#outer(), prefix],
    );
    return Array.isArray(reply) ? (reply as string[]) : undefined;
  }

  /**
   * Index the keys written before the index existed (by an older version): one scan of each
   * indexed prefix, once per database and store prefix. Writes meanwhile index themselves.
   */
  async #buildIndex(): Promise<void> {
    const p = this.#prefix;
    await this.#client.script('LOAD', scripts.track.source);
    for (const indexed of this.#indexPrefixes) {
      const found = await this.#scan(indexed, BACKFILL_SCAN_COUNT);
      for (let i = 0; i < found.length; i += SCAN_COUNT) {
        const pipeline = this.#client.pipeline();
        for (const key of found.slice(i, i + SCAN_COUNT))
          pipeline.evalsha(scripts.track.sha, 3, p + key, p + INDEX, p + EXPIRY, key);
        execReplies(await pipeline.exec());
      }
    }
    await this.#client.set(p + BUILT, '1');
  }

  /** The Redis key names before the store-relative part (SCAN and scripts ignore ioredis' `keyPrefix`). */
  #outer(): string {
    return (this.#client.options.keyPrefix ?? '') + this.#prefix;
  }

  /** Every key starting with `prefix`, by scanning the database. */
  async #scan(prefix: string, count = SCAN_COUNT): Promise<string[]> {
    const outer = this.#outer();
    const pattern = `${escapeGlob(outer + prefix)}*`;
    const found = new Set<string>();
    let cursor = '0';
    do {
      const [next, batch] = await this.#client.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      for (const full of batch) found.add(full.slice(outer.length));
      cursor = next;
    } while (cursor !== '0');
    return [...found];
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
