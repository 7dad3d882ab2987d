import { ConfigError } from '../errors.js';
import { ExpiryHeap } from './expiry-heap.js';
import type { Store, StoreMerge, StoreSetOptions, StoreTtlOptions } from './types.js';

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Copy `patch`'s fields into `target`, objects as detached copies; `__proto__` stays a plain field. Field by
 * field, not by spread: V8 makes spread-made objects slow to add fields to (3 us a merge, not 0.4, Node 20).
 */
function assignCopies(target: Record<string, unknown>, patch: Readonly<Record<string, unknown>>) {
  for (const field of Object.keys(patch)) {
    const given = patch[field];
    const value = given !== null && typeof given === 'object' ? structuredClone(given) : given;
    if (field === '__proto__')
      Object.defineProperty(target, field, { value, writable: true, enumerable: true, configurable: true });
    else target[field] = value;
  }
  return target;
}

interface Entry {
  value: unknown;
  expiresAt: number;
  /** The expiry this entry has in the heap (0 for none): a later `expiresAt` is re-queued when this one pops. */
  scheduledAt: number;
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
  /** Keys marked evictable (finished job records): the number of their latest mark. */
  private readonly evictable = new Map<string, number>();
  /** Marked keys in order (oldest first from `evictHead`), with their mark in `evictMarks`; an item whose key was marked again since is skipped. */
  private evictOrder: string[] = [];
  private evictMarks: number[] = [];
  private evictHead = 0;
  private marks = 0;
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

  /** `previous`: the live entry of `key` when the caller has looked it up already (saves a lookup). */
  private write(
    key: string,
    value: unknown,
    expiresAt: number,
    now = Date.now(),
    previous = this.entries.get(key),
  ) {
    const entry: Entry = previous ?? { value, expiresAt, scheduledAt: 0 };
    entry.value = value;
    entry.expiresAt = expiresAt;
    if (!previous) {
      this.entries.set(key, entry);
      this.indexed(key, true);
    }
    this.schedule(key, entry);
    this.sweep(now);
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
      if (entry.expiresAt > 0 && entry.expiresAt <= now) this.remove(item.key);
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
      this.remove(key);
      return undefined;
    }
    return entry;
  }

  private remove(key: string): void {
    if (this.entries.delete(key)) this.indexed(key, false);
    this.evictable.delete(key);
  }

  /** Mark or unmark `key` as evictable; past the bound, drop the oldest marked. */
  private mark(key: string, evictable: boolean | undefined): void {
    if (evictable === undefined) return;
    if (!evictable) {
      this.evictable.delete(key);
      return;
    }
    const mark = ++this.marks;
    this.evictable.set(key, mark);
    const order = this.evictOrder;
    const marks = this.evictMarks;
    order.push(key);
    marks.push(mark);
    while (this.evictable.size > this.maxEvictable && this.evictHead < order.length) {
      const at = this.evictHead++;
      const oldest = order[at] as string;
      if (this.evictable.get(oldest) === marks[at]) this.remove(oldest);
    }
    // Compact once skipped or stale items dominate (keys marked again and again stay one live item each).
    if (order.length - this.evictHead > 2 * this.evictable.size + 1024 || this.evictHead > 1024) {
      let kept = 0;
      for (let i = this.evictHead; i < order.length; i++) {
        const item = order[i] as string;
        if (this.evictable.get(item) !== marks[i]) continue;
        order[kept] = item;
        marks[kept++] = marks[i] as number;
      }
      order.length = kept;
      marks.length = kept;
      this.evictHead = 0;
    }
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
    this.write(key, structuredClone(value), MemoryStore.expiry(options.ttlMs));
    this.evictable.delete(key);
    return true;
  }

  merge(key: string, patch: Readonly<Record<string, unknown>>, options?: StoreTtlOptions): Promise<void> {
    return this.mergeMany([{ key, patch, ...(options === undefined ? {} : { options }) }]);
  }

  /** Every merge in order, applied at once (one clock read). */
  mergeMany(writes: readonly StoreMerge[]): Promise<void> {
    const now = Date.now();
    try {
      for (const { key, patch, options } of writes) this.mergeAt(key, patch, options ?? {}, now);
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
  ): void {
    const entry = this.live(key, now);
    const expiresAt = options.ttlMs ? MemoryStore.expiry(options.ttlMs, now) : (entry?.expiresAt ?? 0);
    const current = entry?.value;
    // The stored object is the store's own (values go in and out as copies): merged in place.
    const value =
      typeof current === 'object' && current !== null && !Array.isArray(current)
        ? assignCopies(current as Record<string, unknown>, patch)
        : assignCopies({}, patch);
    this.write(key, value, expiresAt, now, entry);
    this.mark(key, options.evictable);
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
