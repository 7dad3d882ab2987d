/**
 * The Store contract: a small key-value store with TTLs and atomic primitives. The core keeps job
 * records (state, progress, result), schedule leases, rate-limit windows and fan-out bookkeeping in it.
 * Values are JSON-serialisable. Implementations: `MemoryStore` (core), `@queuekit/store-redis`,
 * `@queuekit/store-postgres`. Every implementation passes `describeStoreConformance`.
 */
export interface Store {
  /**
   * True when operations issued by one caller are applied in the order they were called (one
   * connection, or in-process). The core then skips its own per-key write ordering.
   */
  readonly ordered?: boolean;
  /** The value at `key`, or undefined when absent or expired. */
  get<V = unknown>(key: string): Promise<V | undefined>;
  /**
   * Write `value` at `key`. With `ifAbsent`, write only when no live value exists (a claim or a lease)
   * and resolve `false` when one did. `ttlMs` (> 0) makes the key expire.
   */
  set(key: string, value: unknown, options?: StoreSetOptions): Promise<boolean>;
  /**
   * Shallow-merge `patch` into the object at `key` (created when absent), atomically with respect to
   * other `merge` calls on the same key. `ttlMs` (> 0) resets the key's expiry.
   */
  merge(key: string, patch: Readonly<Record<string, unknown>>, options?: StoreTtlOptions): Promise<void>;
  /**
   * Optional: apply several `merge`s, in order, in one call (one round trip where the store can). Resolves
   * when every one is applied; rejects when any failed (the others may or may not be applied: a merge
   * applied twice leaves the same value, so a caller may simply write them again). The core writes
   * buffered job records through it when present, else through `merge`. When it rejects, the core writes
   * that batch again one `merge` at a time and fails only the jobs whose own `merge` fails: one bad write
   * (a record over a store limit, an error on one key) fails its job alone, a store outage fails them all.
   * No later write of those jobs is issued before that retry is done, so none is overwritten by an older one.
   */
  mergeMany?(writes: readonly StoreMerge[]): Promise<void>;
  /**
   * Add `by` (default 1) to the integer at `key` (0 when absent) atomically and return the new value.
   * `ttlMs` applies only when the key is created (fixed windows).
   */
  increment(key: string, by?: number, options?: StoreTtlOptions): Promise<number>;
  /** Remove `key`. */
  delete(key: string): Promise<void>;
  /** Live keys starting with `prefix` (meant for small sets such as schedules). */
  keys(prefix: string): Promise<string[]>;
  /** Release connections. */
  close(): Promise<void>;
}

/** One write of `Store.mergeMany`: the arguments of one `merge`. */
export interface StoreMerge {
  readonly key: string;
  readonly patch: Readonly<Record<string, unknown>>;
  readonly options?: StoreTtlOptions;
  /**
   * The caller gives `patch` away: it never reads or changes it (or an object in it) again, so an
   * in-process store may keep it as it is instead of a copy. Other stores ignore it.
   */
  readonly owned?: boolean;
}

/** Options of `Store.merge` and `Store.increment`. */
export interface StoreTtlOptions {
  /** Expire the key this many ms from now. */
  readonly ttlMs?: number;
  /**
   * `merge` only: `true` marks the key as a finished job record, which a bounded store (`MemoryStore`'s
   * `maxEvictable`) may drop before its TTL, oldest marked first; `false` unmarks it (live state again).
   * Stores without a bound ignore it. Live state (schedules, leases, windows, fan-outs) is never marked.
   */
  readonly evictable?: boolean;
}

/** Options of `Store.set`. */
export interface StoreSetOptions extends StoreTtlOptions {
  /** Write only when the key is absent (or expired). */
  readonly ifAbsent?: boolean;
}
