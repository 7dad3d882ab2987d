import type { Store, StoreSetOptions, StoreTtlOptions } from './types.js';

/** A detached copy; flat records of primitives (the common case) skip the costly structuredClone. */
function copyOf(patch: Readonly<Record<string, unknown>>): Record<string, unknown> {
  for (const key in patch) {
    const value = patch[key];
    if (value !== null && typeof value === 'object') return structuredClone(patch) as Record<string, unknown>;
  }
  return { ...patch };
}

interface Entry {
  value: unknown;
  expiresAt: number;
}

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
  /** Operations apply synchronously, in call order. */
  readonly ordered = true;

  /** Entries held, expired ones not yet swept included. */
  get size(): number {
    return this.entries.size;
  }

  private write(key: string, entry: Entry): void {
    const previous = this.entries.get(key);
    this.entries.set(key, entry);
    if (!previous) this.indexed(key, true);
    if (entry.expiresAt > 0 && entry.expiresAt !== previous?.expiresAt)
      this.expiries.push(entry.expiresAt, key);
    this.sweep();
  }

  /** Drop a few expired entries; rebuild the heap when stale items dominate it. */
  private sweep(now = Date.now()): void {
    for (let i = 0; i < SWEEP_PER_WRITE && this.expiries.peek() <= now; i++) {
      const item = this.expiries.pop();
      if (!item) break;
      const entry = this.entries.get(item.key);
      if (entry && entry.expiresAt === item.expiresAt) this.remove(item.key);
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
    this.write(key, { value: structuredClone(value), expiresAt: MemoryStore.expiry(options.ttlMs) });
    return true;
  }

  async merge(
    key: string,
    patch: Readonly<Record<string, unknown>>,
    options: StoreTtlOptions = {},
  ): Promise<void> {
    const entry = this.live(key);
    const base = entry && typeof entry.value === 'object' && entry.value !== null ? entry.value : {};
    const expiresAt = options.ttlMs ? MemoryStore.expiry(options.ttlMs) : (entry?.expiresAt ?? 0);
    this.write(key, { value: { ...base, ...copyOf(patch) }, expiresAt });
  }

  async increment(key: string, by = 1, options: StoreTtlOptions = {}): Promise<number> {
    const entry = this.live(key);
    const next = (typeof entry?.value === 'number' ? entry.value : 0) + by;
    this.write(key, { value: next, expiresAt: entry ? entry.expiresAt : MemoryStore.expiry(options.ttlMs) });
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
