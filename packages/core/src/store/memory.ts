import { ConfigError } from '../errors.js';
import { EvictionQueue } from './eviction.js';
import { ExpiryHeap } from './expiry-heap.js';
import type { Store, StoreMerge, StoreSetOptions, StoreTtlOptions } from './types.js';

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Copy `patch`'s fields into `target`, objects as detached copies unless `owned` (the caller gave them
 * away); `__proto__` stays a plain field. Field by field, not by spread: V8 makes spread-made objects slow
 * to add fields to (3 us a merge, not 0.4, Node 20).
 */
function assign(target: Record<string, unknown>, patch: Readonly<Record<string, unknown>>, owned = false) {
  // Own enumerable fields, as Object.keys gives them, without allocating its array.
  for (const field in patch) {
    if (!Object.hasOwn(patch, field)) continue;
    const given = patch[field];
    const value = !owned && given !== null && typeof given === 'object' ? structuredClone(given) : given;
    if (field === '__proto__')
      Object.defineProperty(target, field, { value, writable: true, enumerable: true, configurable: true });
    else target[field] = value;
  }
  return target;
}

interface Entry {
  readonly key: string;
  value: unknown;
  expiresAt: number;
  /** The expiry this entry has in the heap (0 for none): a later `expiresAt` is re-queued when this one pops. */
  scheduledAt: number;
  /** Its item in the eviction queue while marked evictable (a finished job record), else 0. */
  mark: number;
}

/**
 * Keys are also indexed by their first four `:`-separated segments (`qk:sched:<queue>:def:`), so that
 * `keys()` of such a prefix (the scheduler's, every few seconds) reads one bucket instead of every job record.
 */
const INDEX_SEGMENTS = 4;

/** Job records (most keys; nothing lists them) are not indexed: `keys()` of a prefix under it reads every entry. */
const UNINDEXED = 'qk:job:';

/** The last bucket `bucketOf` found: consecutive keys of one queue's records share it (no new string). */
let lastBucket = '';

/** The index bucket of `key` (its text up to the INDEX_SEGMENTS-th `:`, inclusive), or undefined when shorter. */
function bucketOf(key: string): string | undefined {
  // lastBucket holds exactly INDEX_SEGMENTS colons and ends with one: a key starting with it has that bucket.
  if (lastBucket !== '' && key.startsWith(lastBucket)) return lastBucket;
  let at = -1;
  for (let i = 0; i < INDEX_SEGMENTS; i++) {
    at = key.indexOf(':', at + 1);
    if (at < 0) return undefined;
  }
  lastBucket = key.slice(0, at + 1);
  return lastBucket;
}

/** Finished job records a MemoryStore keeps at most by default (about 20 MB of typical records). */
export const DEFAULT_MAX_EVICTABLE = 10_000;

/** Expired entries removed per write, at most: enough to keep up, since a write adds one expiry. */
const SWEEP_PER_WRITE = 16;

/**
 * A process-local {@link Store}: the default. Not shared between processes.
 *
 * Entries without a TTL (schedules) are kept until deleted; entries with one (job records, rate-limit
 * windows, fan-out bookkeeping) until they expire, never earlier. Expired entries are dropped a few
 * per write (amortised O(log n) per write), so memory follows the live set.
 */
export class MemoryStore implements Store {
  private readonly entries = new Map<string, Entry>();
  /** Entries marked evictable (finished job records), and their keys oldest mark first. */
  private evictable = 0;
  private readonly evictOrder = new EvictionQueue<Entry>();
  private readonly maxEvictable: number;
  private readonly expiries = new ExpiryHeap();
  private readonly buckets = new Map<string, Set<string>>();
  /** Operations apply synchronously, in call order. */
  readonly ordered = true;

  /**
   * `maxEvictable` (default {@link DEFAULT_MAX_EVICTABLE}): how many finished job records (completed or
   * dead-lettered) are kept at most; past it the oldest finished ones are dropped before their TTL, so a
   * long-running worker's memory stays bounded. Live state is never dropped. `Infinity` keeps them all.
   */
  constructor(options: { readonly maxEvictable?: number } = {}) {
    const max = options.maxEvictable ?? DEFAULT_MAX_EVICTABLE;
    if (!(max === Number.POSITIVE_INFINITY || (Number.isInteger(max) && max >= 0)))
      throw new ConfigError('maxEvictable', 'expected an integer ≥ 0 or Infinity');
    this.maxEvictable = max;
  }

  /** Entries held, expired ones not yet swept included. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * `previous`: the live entry of `key` when the caller has looked it up already (saves a lookup), `null`
   * when it looked and found none (a new key: the lookup is not made twice).
   */
  private write(
    key: string,
    value: unknown,
    expiresAt: number,
    now = Date.now(),
    looked: Entry | null | undefined = undefined,
  ): Entry {
    const previous = looked === undefined ? this.entries.get(key) : (looked ?? undefined);
    const entry: Entry = previous ?? { key, value, expiresAt, scheduledAt: 0, mark: 0 };
    entry.value = value;
    entry.expiresAt = expiresAt;
    if (!previous) {
      this.entries.set(key, entry);
      this.indexed(key, true);
    }
    this.schedule(key, entry);
    this.sweep(now);
    return entry;
  }

  /**
   * Queue the entry's expiry in the heap unless an earlier one is queued already: a key rewritten with a
   * later expiry (every job record update) costs no heap push; its queued item is moved on when it pops.
   */
  private schedule(key: string, entry: Entry): void {
    if (entry.expiresAt <= 0 || (entry.scheduledAt > 0 && entry.scheduledAt <= entry.expiresAt)) return;
    entry.scheduledAt = entry.expiresAt;
    this.expiries.push(entry.expiresAt, key);
  }

  /** Drop a few expired entries; rebuild the heap when stale items dominate it. */
  private sweep(now = Date.now()): void {
    for (let i = 0; i < SWEEP_PER_WRITE && this.expiries.peek() <= now; i++) {
      const item = this.expiries.pop();
      if (!item) break;
      const entry = this.entries.get(item.key);
      if (!entry || entry.scheduledAt !== item.expiresAt) continue; // a stale item
      entry.scheduledAt = 0;
      if (entry.expiresAt > 0 && entry.expiresAt <= now) this.remove(item.key, entry);
      else this.schedule(item.key, entry); // extended since: queued again for its new expiry
    }
    if (this.expiries.size > 2 * this.entries.size + 1024) {
      this.expiries.clear();
      for (const [key, entry] of this.entries) {
        entry.scheduledAt = 0;
        this.schedule(key, entry);
      }
    }
  }

  private live(key: string, now = Date.now()): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt && entry.expiresAt <= now) {
      this.remove(key, entry);
      return undefined;
    }
    return entry;
  }

  private remove(key: string, entry = this.entries.get(key)): void {
    if (!entry) return;
    this.entries.delete(key);
    this.indexed(key, false);
    this.unmark(entry);
  }

  private unmark(entry: Entry): void {
    if (entry.mark === 0) return;
    entry.mark = 0;
    this.evictable--;
  }

  /** The mark of an entry now (0: none, removed ones too), and dropping it when `mark` is still its mark. */
  private readonly markOf = (entry: Entry) => entry.mark;
  private readonly evictMarked = (entry: Entry, mark: number) => {
    if (entry.mark !== mark) return false;
    this.remove(entry.key, entry);
    return true;
  };

  /** Mark or unmark `entry` as evictable; past the bound, drop the oldest marked. */
  private mark(entry: Entry, evictable: boolean | undefined): void {
    if (evictable === undefined) return;
    this.unmark(entry);
    if (!evictable) return;
    entry.mark = this.evictOrder.push(entry);
    this.evictable++;
    if (this.evictable > this.maxEvictable)
      this.evictOrder.evict(this.evictable - this.maxEvictable, this.evictMarked);
    this.evictOrder.compact(this.evictable, this.markOf);
  }

  private indexed(key: string, present: boolean): void {
    if (key.startsWith(UNINDEXED)) return;
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

  private static expiry(ttlMs: number | undefined, now = Date.now()): number {
    return ttlMs && ttlMs > 0 ? now + ttlMs : 0;
  }

  async get<V = unknown>(key: string): Promise<V | undefined> {
    const entry = this.live(key);
    return entry ? (structuredClone(entry.value) as V) : undefined;
  }

  async set(key: string, value: unknown, options: StoreSetOptions = {}): Promise<boolean> {
    if (options.ifAbsent && this.live(key)) return false;
    this.unmark(this.write(key, structuredClone(value), MemoryStore.expiry(options.ttlMs)));
    return true;
  }

  merge(key: string, patch: Readonly<Record<string, unknown>>, options?: StoreTtlOptions): Promise<void> {
    return this.mergeMany([{ key, patch, ...(options === undefined ? {} : { options }) }]);
  }

  /** Every merge in order, applied at once (one clock read); an `owned` patch is kept as it is, not copied. */
  mergeMany(writes: readonly StoreMerge[]): Promise<void> {
    const now = Date.now();
    try {
      for (const { key, patch, options, owned } of writes)
        this.mergeAt(key, patch, options ?? {}, now, owned);
      return RESOLVED;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private mergeAt(
    key: string,
    patch: Readonly<Record<string, unknown>>,
    options: StoreTtlOptions,
    now: number,
    owned: boolean | undefined,
  ): void {
    const entry = this.live(key, now);
    const expiresAt = options.ttlMs ? MemoryStore.expiry(options.ttlMs, now) : (entry?.expiresAt ?? 0);
    const current = entry?.value;
    // The stored object is the store's own (values go in and out as copies): merged in place.
    let value: Record<string, unknown>;
    if (typeof current === 'object' && current !== null && !Array.isArray(current))
      value = assign(current as Record<string, unknown>, patch, owned);
    else value = owned && Object.getPrototypeOf(patch) === Object.prototype ? patch : assign({}, patch);
    this.mark(this.write(key, value, expiresAt, now, entry ?? null), options.evictable);
  }

  async increment(key: string, by = 1, options: StoreTtlOptions = {}): Promise<number> {
    const entry = this.live(key);
    const next = (typeof entry?.value === 'number' ? entry.value : 0) + by;
    this.write(key, next, entry ? entry.expiresAt : MemoryStore.expiry(options.ttlMs));
    return next;
  }

  async delete(key: string): Promise<void> {
    this.remove(key);
  }

  async keys(prefix: string): Promise<string[]> {
    const now = Date.now();
    const bucket = bucketOf(prefix);
    const candidates =
      bucket === undefined || bucket.startsWith(UNINDEXED)
        ? this.entries.keys()
        : (this.buckets.get(bucket) ?? []);
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
