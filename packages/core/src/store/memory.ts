import type { Store, StoreSetOptions, StoreTtlOptions } from './types.js';

/** Shallow-merge a detached copy of `patch` into `target`; primitives (the common case) skip structuredClone. */
function assignCopy(target: Record<string, unknown>, patch: Readonly<Record<string, unknown>>): void {
  for (const key in patch) {
    const value = patch[key];
    target[key] = value !== null && typeof value === 'object' ? structuredClone(value) : value;
  }
}

interface Entry {
  value: unknown;
  expiresAt: number;
}

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Entries written `evictable` (records of finished jobs) kept at most; beyond it the oldest such entry
   * is dropped. Default 10,000 (about 20 MB of records); `Infinity` keeps them until their TTL.
   */
  readonly maxEvictable?: number;
}

/** Default of {@link MemoryStoreOptions.maxEvictable}. */
export const DEFAULT_MAX_EVICTABLE = 10_000;

/**
 * Keys are also indexed by their first four `:`-separated segments (`qk:sched:<queue>:def:`), so that
 * `keys()` of such a prefix (the scheduler's, every few seconds) reads one bucket instead of every job record.
 */
const INDEX_SEGMENTS = 4;

/** The index bucket of `key` (its text up to the INDEX_SEGMENTS-th `:`, inclusive), or undefined when shorter. */
function bucketOf(key: string): string | undefined {
  let at = -1;
  for (let i = 0; i < INDEX_SEGMENTS; i++) {
    at = key.indexOf(':', at + 1);
    if (at < 0) return undefined;
  }
  return key.slice(0, at + 1);
}

/** Expired entries removed per write, at most: enough to keep up, since a write adds one expiry. */
const SWEEP_PER_WRITE = 16;

/**
 * Min-heap of (expiresAt, key). An item is stale when its key was rewritten with another expiry since;
 * stale items are dropped when popped, and the heap is rebuilt when they outnumber the live ones.
 */
class ExpiryHeap {
  private times: number[] = [];
  private keys: string[] = [];

  get size(): number {
    return this.times.length;
  }

  push(expiresAt: number, key: string): void {
    let i = this.times.length;
    this.times.push(expiresAt);
    this.keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.times[parent] as number) <= expiresAt) break;
      this.move(parent, i);
      i = parent;
    }
    this.times[i] = expiresAt;
    this.keys[i] = key;
  }

  /** Earliest expiry, or Infinity when empty. */
  peek(): number {
    return this.times.length > 0 ? (this.times[0] as number) : Number.POSITIVE_INFINITY;
  }

  pop(): { expiresAt: number; key: string } | undefined {
    if (this.times.length === 0) return undefined;
    const top = { expiresAt: this.times[0] as number, key: this.keys[0] as string };
    const lastTime = this.times.pop() as number;
    const lastKey = this.keys.pop() as string;
    const n = this.times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child =
          right < n && (this.times[right] as number) < (this.times[left] as number) ? right : left;
        if ((this.times[child] as number) >= lastTime) break;
        this.move(child, i);
        i = child;
      }
      this.times[i] = lastTime;
      this.keys[i] = lastKey;
    }
    return top;
  }

  clear(): void {
    this.times = [];
    this.keys = [];
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from] as number;
    this.keys[to] = this.keys[from] as string;
  }
}

/**
 * A process-local {@link Store}: the default. Not shared between processes.
 *
 * Entries without a TTL (schedules) are kept until deleted; entries with one (job records, rate-limit
 * windows, fan-out bookkeeping) until they expire, never earlier. Expired entries are dropped a few
 * per write (amortised O(log n) per write), so memory follows the live set.
 */
export class MemoryStore implements Store {
  private readonly entries = new Map<string, Entry>();
  private readonly expiries = new ExpiryHeap();
  private readonly buckets = new Map<string, Set<string>>();
  /** Keys written `evictable`, oldest write first. */
  private readonly evictable = new Set<string>();
  private readonly maxEvictable: number;
  /** Operations apply synchronously, in call order. */
  readonly ordered = true;

  constructor(options: MemoryStoreOptions = {}) {
    this.maxEvictable = Math.max(1, options.maxEvictable ?? DEFAULT_MAX_EVICTABLE);
  }

  /** Entries held, expired ones not yet swept included. */
  get size(): number {
    return this.entries.size;
  }

  /** Store `entry` at `key`; `previousExpiry` is the key's expiry before this write (undefined: absent). */
  private write(
    key: string,
    entry: Entry,
    evictable: boolean | undefined,
    previousExpiry = this.entries.get(key)?.expiresAt,
  ): void {
    if (!this.entries.has(key)) this.indexed(key, true);
    this.entries.set(key, entry);
    this.expiring(key, entry.expiresAt, previousExpiry);
    this.evictable.delete(key);
    if (evictable) {
      this.evictable.add(key);
      if (this.evictable.size > this.maxEvictable) this.evictOldest();
    }
    this.sweep();
  }

  /**
   * Keep one heap item at or before each expiry: a later expiry (a record's TTL renewed on each write)
   * pushes nothing now; its item, once due, is pushed again at the new time (see sweep).
   */
  private expiring(key: string, expiresAt: number, previous: number | undefined): void {
    if (expiresAt > 0 && (previous === undefined || previous === 0 || expiresAt < previous))
      this.expiries.push(expiresAt, key);
  }

  private evictOldest(): void {
    for (const key of this.evictable) {
      this.remove(key);
      return;
    }
  }

  /** Drop a few expired entries; rebuild the heap when stale items dominate it. */
  private sweep(now = Date.now()): void {
    for (let i = 0; i < SWEEP_PER_WRITE && this.expiries.peek() <= now; i++) {
      const item = this.expiries.pop();
      if (!item) break;
      const entry = this.entries.get(item.key);
      if (!entry || entry.expiresAt === 0) continue;
      if (entry.expiresAt <= now) this.remove(item.key);
      else if (entry.expiresAt > item.expiresAt) this.expiries.push(entry.expiresAt, item.key);
    }
    if (this.expiries.size > 2 * this.entries.size + 1024) {
      this.expiries.clear();
      for (const [key, entry] of this.entries)
        if (entry.expiresAt > 0) this.expiries.push(entry.expiresAt, key);
    }
  }

  private live(key: string, now = Date.now()): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt && entry.expiresAt <= now) {
      this.remove(key);
      return undefined;
    }
    return entry;
  }

  private remove(key: string): void {
    if (this.entries.delete(key)) this.indexed(key, false);
    this.evictable.delete(key);
  }

  private indexed(key: string, present: boolean): void {
    const bucket = bucketOf(key);
    if (bucket === undefined) return;
    let keys = this.buckets.get(bucket);
    if (present) {
      if (!keys) {
        keys = new Set();
        this.buckets.set(bucket, keys);
      }
      keys.add(key);
    } else if (keys) {
      keys.delete(key);
      if (keys.size === 0) this.buckets.delete(bucket);
    }
  }

  private static expiry(ttlMs: number | undefined): number {
    return ttlMs && ttlMs > 0 ? Date.now() + ttlMs : 0;
  }

  async get<V = unknown>(key: string): Promise<V | undefined> {
    const entry = this.live(key);
    return entry ? (structuredClone(entry.value) as V) : undefined;
  }

  async set(key: string, value: unknown, options: StoreSetOptions = {}): Promise<boolean> {
    if (options.ifAbsent && this.live(key)) return false;
    this.write(key, { value: structuredClone(value), expiresAt: MemoryStore.expiry(options.ttlMs) }, false);
    return true;
  }

  async merge(
    key: string,
    patch: Readonly<Record<string, unknown>>,
    options: StoreTtlOptions = {},
  ): Promise<void> {
    const found = this.live(key);
    const expiresAt = options.ttlMs ? MemoryStore.expiry(options.ttlMs) : (found?.expiresAt ?? 0);
    // Values only leave the store as copies (get clones), so the stored object is updated in place.
    const entry =
      found && typeof found.value === 'object' && found.value !== null ? found : { value: {}, expiresAt };
    const previousExpiry = found?.expiresAt;
    entry.expiresAt = expiresAt;
    assignCopy(entry.value as Record<string, unknown>, patch);
    this.write(key, entry, options.evictable, previousExpiry);
  }

  async increment(key: string, by = 1, options: StoreTtlOptions = {}): Promise<number> {
    const entry = this.live(key);
    const next = (typeof entry?.value === 'number' ? entry.value : 0) + by;
    this.write(
      key,
      { value: next, expiresAt: entry ? entry.expiresAt : MemoryStore.expiry(options.ttlMs) },
      false,
    );
    return next;
  }

  async delete(key: string): Promise<void> {
    this.remove(key);
  }

  async keys(prefix: string): Promise<string[]> {
    const now = Date.now();
    const bucket = bucketOf(prefix);
    const candidates = bucket === undefined ? this.entries.keys() : (this.buckets.get(bucket) ?? []);
    return [...candidates].filter((key) => key.startsWith(prefix) && this.live(key, now));
  }

  async close(): Promise<void> {
    // Nothing to release.
  }
}

let processStore: MemoryStore | undefined;

/**
 * The store of queues created without a `store` option: one per process, shared by every such queue
 * (keys carry the queue name), so two `createQueue` calls for one queue share records, schedules and
 * rate limits. Closing a queue leaves it open.
 */
export function defaultStore(): MemoryStore {
  processStore ??= new MemoryStore();
  return processStore;
}
