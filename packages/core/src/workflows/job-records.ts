import type { JobRecordFields } from '../contract/workflows.js';
import type { JobState } from '../driver.js';
import { capErrorText } from '../error-text.js';
import type { Store, StoreMerge, StoreTtlOptions } from '../store/types.js';

export type { JobState };

/** What `queue.getJob(id)` answers: the status endpoint of the 202 Accepted pattern. */
export interface JobStatus<R = unknown> extends JobRecordFields<R, number | Record<string, unknown>> {
  readonly id: string;
  readonly queue: string;
  readonly updatedAt: Date;
}

/** A record as the store keeps it: every field optional, dates as epoch ms. */
type Stored<T> = { -readonly [K in keyof T]?: NonNullable<T[K]> extends Date ? number : T[K] };
type StoredStatus = Stored<JobStatus>;

/** A change to a job record, as the consumer and producer give it. */
export type RecordPatch = Omit<StoredStatus, 'updatedAt'>;

/** Store keys of live jobs a tracker keeps at most (see `JobTracker.key`). */
const MAX_CACHED_KEYS = 100_000;

/** States after which a record only answers `getJob`. */
const FINISHED: ReadonlySet<JobState> = new Set<JobState>(['completed', 'failed']);

/** The changes buffered for one job since the last flush, merged in call order. */
interface Pending {
  readonly patch: Record<string, unknown>;
  /** From the last patch that set a state: a finished record may be dropped early by a bounded store. */
  evictable: boolean | undefined;
}

/** One flush: every update buffered before it resolves when it is written. */
interface Round {
  /** Resolves once written; rejects when a `mergeMany` of the batch failed (every job of it failed). */
  readonly done: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
  /** Stores without `mergeMany`: jobs whose own write failed, with the error (their callers reject with it). */
  failures: Map<string, unknown> | undefined;
}

/** `run()`'s promise; a synchronous throw becomes a rejection. */
function attempt(run: () => Promise<unknown> | undefined): Promise<unknown> {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(error);
  }
}

function newRound(): Round {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Its callers hear of a failure; an update nobody awaits is no unhandled rejection.
  done.catch(() => undefined);
  return { done, resolve, reject, failures: undefined };
}

/**
 * Records job states, progress and results in a {@link Store}. Updates are buffered and coalesced per job
 * until the current run of promise callbacks settles (a `process.nextTick` after them, no wait for the
 * next event-loop phase), then written as one merge per job (a job that goes active and completes in
 * that time costs one write); each update's promise resolves once its change is written. Writes for one
 * job are applied in order: an unordered store gets one flush at a time, so a slow write can never bring
 * back an older state. Reads (`get`) write what is buffered first, so they see every earlier update.
 */
export class JobTracker {
  private pending = new Map<string, Pending>();
  private round: Round | undefined;
  /** The flush being written (unordered stores: the next one starts after it). */
  private writing: Promise<void> | undefined;
  private readonly keys = new Map<string, string>();
  private readonly options: {
    readonly live: StoreTtlOptions;
    readonly done: StoreTtlOptions;
    readonly none: StoreTtlOptions;
  };

  constructor(
    readonly store: Store,
    private readonly queue: string,
    ttlMs: number,
  ) {
    this.options = {
      live: { ttlMs, evictable: false },
      done: { ttlMs, evictable: true },
      none: { ttlMs },
    };
  }

  /**
   * The store key of `id`. Kept while the job is live, so that its every write hands the store the same
   * string (whose hash is computed once) instead of a new one to hash; dropped once finished.
   */
  private key(id: string): string {
    let key = this.keys.get(id);
    if (key === undefined) {
      key = `qk:job:${this.queue}:${id}`;
      // Jobs sent here but finished elsewhere are never dropped one by one: bounded by clearing.
      if (this.keys.size >= MAX_CACHED_KEYS) this.keys.clear();
      this.keys.set(id, key);
    }
    return key;
  }

  /** Apply `patch` after every earlier write for `id`; resolves when written. */
  update(id: string, patch: Readonly<RecordPatch>): Promise<void> {
    // Objects are copied now: a result or progress the caller changes before the flush is recorded as given.
    // One that cannot be copied fails this update alone (a rejection, never a throw), and none of its fields.
    let copies: Record<string, unknown> | undefined;
    try {
      for (const field in patch) {
        const value = (patch as Record<string, unknown>)[field];
        if (value === null || typeof value !== 'object') continue;
        copies ??= {};
        copies[field] = structuredClone(value);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    let pending = this.pending.get(id);
    if (pending === undefined) {
      pending = { patch: {}, evictable: undefined };
      this.pending.set(id, pending);
    }
    const target = pending.patch;
    for (const field in patch) {
      const value = (patch as Record<string, unknown>)[field];
      if (copies !== undefined && field in copies) target[field] = copies[field];
      else target[field] = field === 'error' && typeof value === 'string' ? capErrorText(value) : value;
    }
    target.updatedAt = Date.now();
    if (patch.state !== undefined) pending.evictable = FINISHED.has(patch.state);
    let round = this.round;
    if (round === undefined) {
      round = newRound();
      this.round = round;
      // A tick queued from a promise callback runs once every queued promise callback has run.
      process.nextTick(() => this.flush());
    }
    // One promise for the whole batch where the store writes it at once (no allocation per update).
    if (this.store.mergeMany) return round.done;
    const written = round;
    return written.done.then(() => {
      if (written.failures?.has(id)) throw written.failures.get(id);
    });
  }

  /** Start writing what is buffered now instead of at the end of the turn. */
  flush(): void {
    const round = this.round;
    if (round === undefined) return;
    this.round = undefined;
    const batch = this.pending;
    this.pending = new Map();
    const previous = this.store.ordered ? undefined : this.writing;
    const writing = previous ? previous.then(() => this.write(batch, round)) : this.write(batch, round);
    this.writing = writing;
    writing.then(() => {
      if (this.writing === writing) this.writing = undefined;
    });
  }

  /** Merge every buffered job's change; never rejects (failures go to the round). */
  private write(batch: Map<string, Pending>, round: Round): Promise<void> {
    const writes: StoreMerge[] = [];
    for (const [id, { patch, evictable }] of batch) {
      const options =
        evictable === undefined ? this.options.none : evictable ? this.options.done : this.options.live;
      writes.push({ key: this.key(id), patch, options });
      if (evictable) this.keys.delete(id);
    }
    const { store } = this;
    if (store.mergeMany) {
      return attempt(() => store.mergeMany?.(writes)).then(
        () => round.resolve(),
        (error: unknown) => round.reject(error),
      );
    }
    const ids = [...batch.keys()];
    const failed = (id: string) => (error: unknown) => {
      round.failures ??= new Map();
      round.failures.set(id, error);
    };
    return Promise.all(
      writes.map(({ key, patch, options }, i) =>
        attempt(() => store.merge(key, patch, options)).catch(failed(ids[i] as string)),
      ),
    ).then(() => round.resolve());
  }

  /** Everything updated so far, written (failures ignored: their callers hear of them). */
  private async settled(): Promise<void> {
    this.flush();
    await this.writing;
  }

  /** Drop the record of `id` (a job recorded as sent whose send failed), after every earlier write for it. */
  async forget(id: string): Promise<void> {
    await this.settled();
    await this.store.delete(this.key(id));
  }

  /** The status of job `id`, or undefined when unknown or expired. */
  async get<R>(id: string): Promise<JobStatus<R> | undefined> {
    // An ordered store applies the merges flush() issues before this read; others are awaited.
    if (this.store.ordered) this.flush();
    else await this.settled();
    const stored = await this.store.get<StoredStatus>(this.key(id));
    if (!stored?.state) return undefined;
    // Built by assignment: a literal with conditional spreads after its fields takes V8's slow path.
    const status: { -readonly [K in keyof JobStatus<R>]: JobStatus<R>[K] } = {
      id: stored.id ?? id,
      queue: stored.queue ?? this.queue,
      name: stored.name ?? 'default',
      state: stored.state,
      attempts: stored.attempts ?? 0,
      updatedAt: new Date(stored.updatedAt ?? 0),
    };
    if (stored.progress !== undefined) status.progress = stored.progress;
    if (stored.result !== undefined) status.result = stored.result as R;
    if (stored.error !== undefined) status.error = stored.error;
    if (stored.reason !== undefined) status.reason = stored.reason;
    if (stored.maxAttempts !== undefined) status.maxAttempts = stored.maxAttempts;
    if (stored.createdAt !== undefined) status.createdAt = new Date(stored.createdAt);
    if (stored.startedAt !== undefined) status.startedAt = new Date(stored.startedAt);
    if (stored.finishedAt !== undefined) status.finishedAt = new Date(stored.finishedAt);
    return status;
  }
}
