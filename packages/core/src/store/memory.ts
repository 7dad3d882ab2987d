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

/** A process-local {@link Store}: the default. Not shared between processes. */
export class MemoryStore implements Store {
  private readonly entries = new Map<string, Entry>();
  private writes = 0;
  /** Operations apply synchronously, in call order. */
  readonly ordered = true;

  /** @param maxEntries oldest entries are evicted beyond this many (bounded memory). */
  constructor(private readonly maxEntries = 100_000) {}

  /** Every 10,000 writes, drop expired entries, then the oldest beyond `maxEntries`. */
  private written(): void {
    if (++this.writes % 10_000 !== 0 && this.entries.size <= this.maxEntries) return;
    const now = Date.now();
    for (const [key, entry] of this.entries)
      if (entry.expiresAt && entry.expiresAt <= now) this.entries.delete(key);
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(key);
    }
  }

  private live(key: string, now = Date.now()): Entry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt && entry.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
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
    this.entries.set(key, { value: structuredClone(value), expiresAt: MemoryStore.expiry(options.ttlMs) });
    this.written();
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
    this.entries.set(key, { value: { ...base, ...copyOf(patch) }, expiresAt });
    this.written();
  }

  async increment(key: string, by = 1, options: StoreTtlOptions = {}): Promise<number> {
    const entry = this.live(key);
    const next = (typeof entry?.value === 'number' ? entry.value : 0) + by;
    this.entries.set(key, {
      value: next,
      expiresAt: entry ? entry.expiresAt : MemoryStore.expiry(options.ttlMs),
    });
    this.written();
    return next;
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async keys(prefix: string): Promise<string[]> {
    const now = Date.now();
    return [...this.entries.keys()].filter((key) => key.startsWith(prefix) && this.live(key, now));
  }

  async close(): Promise<void> {
    // Nothing to release.
  }
}
