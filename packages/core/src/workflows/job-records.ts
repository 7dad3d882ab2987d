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

/** Live jobs a tracker keeps a {@link Slot} for at most (see `JobTracker.slot`). */
const MAX_CACHED_KEYS = 100_000;

/** The changes buffered for one job since the last flush, merged in call order: the job's write in that flush. */
interface Pending extends StoreMerge {
  readonly id: string;
  readonly slot: Slot;
  readonly patch: Record<string, unknown>;
  /** From the last patch that set a state: a finished record may be dropped early by a bounded store. */
  options: StoreTtlOptions;
  /** What this job's updates of the flush answer (made by the first one, shared by the others). */
  written: Promise<void> | undefined;
  /** Told when this write fails: the first {@link JobTracker.record} of the flush, then a list of the others. */
  onError: Listener['onError'] | undefined;
  context: unknown;
  others: Listener[] | undefined;
}

/** Who a {@link JobTracker.record} tells of its write's failure: `onError(context, error, id)`. */
interface Listener {
  readonly onError: (context: never, error: unknown, id: string) => void;
  readonly context: unknown;
}

/** What the tracker keeps of a live job: its store key, and its write in the flush being buffered. */
interface Slot {
  readonly key: string;
  pending: Pending | undefined;
}

/** One flush: every update buffered before it resolves when it is written, or rejects when its job's write failed. */
interface Round {
  /** One per job, in the order of their first update. */
  readonly writes: Pending[];
  /** Resolves once the round is written, failed writes included (never rejects). */
  readonly done: Promise<void>;
  resolve(): void;
  /** Jobs whose own write failed, with the error (their updates reject with it). */
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
  const done = new Promise<void>((res) => {
    resolve = res;
  });
  return { writes: [], done, resolve, failures: undefined };
}

const ignore = () => undefined;

/** The store key of job `id`'s record. */
function recordKey(queue: string, id: string): string {
  return `qk:job:${queue}:${id}`;
}

/** Record that the write of `job` failed (before the round resolves, so its updates reject with `error`). */
function failed(round: Round, job: Pending, error: unknown): void {
  round.failures ??= new Map();
  round.failures.set(job.id, error);
  // Its callers hear of it; an update nobody awaits is no unhandled rejection.
  job.written?.catch(ignore);
  if (job.onError !== undefined) tell(job.onError, job.context, error, job.id);
  if (job.others !== undefined)
    for (const { onError, context } of job.others) tell(onError, context, error, job.id);
}

function tell(onError: Listener['onError'], context: unknown, error: unknown, id: string): void {
  (onError as (context: unknown, error: unknown, id: string) => void)(context, error, id);
}

/** The promise of job `id`'s updates in `round`. */
function outcome(round: Round, id: string): Promise<void> {
  return round.done.then(() => {
    if (round.failures?.has(id)) throw round.failures.get(id);
  });
}

/**
 * Records job states, progress and results in a {@link Store}. Updates are buffered and coalesced per job
 * until the current run of promise callbacks settles (a `process.nextTick` after them, no wait for the
 * next event-loop phase), then written as one merge per job (a job that goes active and completes in
 * that time costs one write), through `Store.mergeMany` when the store has it; each update's promise
 * resolves once its change is written. A write that fails fails its own job's updates only: when a
 * `mergeMany` rejects, that batch is written again one `merge` at a time to find which. Writes for one
 * job are applied in order: one flush is written at a time (the next waits for the one before, retries
 * included), so a slow or retried write can never bring back an older state. Reads (`get`) write what is
 * buffered first, so they see every earlier update.
 */
export class JobTracker {
  private round: Round | undefined;
  /** The flush being written (the next one starts after it). */
  private writing: Promise<void> | undefined;
  private readonly slots = new Map<string, Slot>();
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
   * The slot of live job `id`. Kept while the job is live, so that its every write hands the store the
   * same key string (whose hash is computed once) instead of a new one to hash, and its updates of one
   * flush find the write they merge into; dropped once finished.
   */
  private slot(id: string): Slot {
    let slot = this.slots.get(id);
    if (slot === undefined) {
      slot = { key: recordKey(this.queue, id), pending: undefined };
      // Jobs sent here but finished elsewhere are never dropped one by one: bounded by clearing.
      if (this.slots.size >= MAX_CACHED_KEYS) this.slots.clear();
      this.slots.set(id, slot);
    }
    return slot;
  }

  /** The store key of `id`, not kept (reads and deletes of jobs that may be finished). */
  private keyOf(id: string): string {
    return this.slots.get(id)?.key ?? recordKey(this.queue, id);
  }

  /**
   * Apply `patch` after every earlier write for `id`; resolves when written, rejects when that write
   * failed. The tracker takes `patch` over (it may add to it and hand it to the store): give a new object
   * each call, and leave it alone after.
   */
  update(id: string, patch: Readonly<RecordPatch>): Promise<void> {
    const pending = this.buffer(id, patch);
    if (!('slot' in pending)) return Promise.reject(pending.error);
    pending.written ??= outcome(this.round as Round, id);
    return pending.written;
  }

  /**
   * {@link update} for a caller that only needs to hear of a failure: `onError(context, error, id)` is called
   * when this write fails (before the promise resolves), and the promise, one per flush rather than one
   * per update, resolves once the write is done and never rejects. The consumer's updates take this path.
   */
  record<C>(
    id: string,
    patch: Readonly<RecordPatch>,
    onError: (context: C, error: unknown, id: string) => void,
    context: C,
  ): Promise<void> {
    const pending = this.buffer(id, patch);
    if (!('slot' in pending))
      return Promise.reject(pending.error).catch((error) => onError(context, error, id));
    if (pending.onError === undefined) {
      pending.onError = onError;
      pending.context = context;
    } else {
      pending.others ??= [];
      pending.others.push({ onError, context });
    }
    return (this.round as Round).done;
  }

  /** Buffer `patch` into the job's write of the flush (see {@link update}), or the error of copying it. */
  private buffer(id: string, patch: Readonly<RecordPatch>): Pending | { error: unknown } {
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
      return { error };
    }
    let round = this.round;
    if (round === undefined) {
      round = newRound();
      this.round = round;
      // A tick queued from a promise callback runs once every queued promise callback has run.
      process.nextTick(() => this.flush());
    }
    const slot = this.slot(id);
    let pending = slot.pending;
    let target: Record<string, unknown>;
    if (pending === undefined) {
      // The job's first change of the flush is taken over as its patch (no copy): it is written as given,
      // and never touched once written, so the store may keep it (`owned`).
      target = patch as Record<string, unknown>;
      if (copies !== undefined) for (const field in copies) target[field] = copies[field];
      if (typeof target.error === 'string') target.error = capErrorText(target.error);
      pending = {
        id,
        slot,
        key: slot.key,
        patch: target,
        options: this.options.none,
        owned: true,
        written: undefined,
        onError: undefined,
        context: undefined,
        others: undefined,
      };
      slot.pending = pending;
      round.writes.push(pending);
    } else {
      target = pending.patch;
      for (const field in patch) {
        const value = (patch as Record<string, unknown>)[field];
        if (copies !== undefined && field in copies) target[field] = copies[field];
        else target[field] = field === 'error' && typeof value === 'string' ? capErrorText(value) : value;
      }
    }
    target.updatedAt = Date.now();
    const { state } = patch;
    if (state !== undefined) {
      const finished = state === 'completed' || state === 'failed';
      pending.options = finished ? this.options.done : this.options.live;
      if (finished) this.slots.delete(id);
    }
    return pending;
  }

  /** Start writing what is buffered now instead of at the end of the turn (after the flush being written). */
  flush(): void {
    const round = this.round;
    if (round === undefined) return;
    this.round = undefined;
    // Written from now on, never added to: the jobs' next updates start new writes (and hold nothing of these).
    for (const job of round.writes) job.slot.pending = undefined;
    const previous = this.writing;
    const writing = previous ? previous.then(() => this.write(round)) : this.write(round);
    this.writing = writing;
    writing.then(() => {
      if (this.writing === writing) this.writing = undefined;
    });
  }

  /** Merge every buffered job's change; never rejects (failures go to the round). */
  private write(round: Round): Promise<void> {
    const { store } = this;
    const { writes } = round;
    const written = store.mergeMany
      ? attempt(() => store.mergeMany?.(writes)).catch((error: unknown) =>
          // One write: its error is its own. More: find the failing ones (a merge applied twice is harmless).
          writes.length === 1 ? failed(round, writes[0] as Pending, error) : this.oneByOne(round),
        )
      : this.oneByOne(round);
    return written.then(() => round.resolve());
  }

  /** Each write of `round` as its own `merge`; a failure is that job's alone. */
  private oneByOne(round: Round): Promise<unknown> {
    const { store } = this;
    return Promise.all(
      round.writes.map((job) =>
        attempt(() => store.merge(job.key, job.patch, job.options)).catch((error: unknown) =>
          failed(round, job, error),
        ),
      ),
    );
  }

  /** Everything updated so far, written (failures ignored: their callers hear of them). */
  private async settled(): Promise<void> {
    this.flush();
    await this.writing;
  }

  /** Drop the record of `id` (a job recorded as sent whose send failed), after every earlier write for it. */
  async forget(id: string): Promise<void> {
    await this.settled();
    await this.store.delete(this.keyOf(id));
  }

  /** The status of job `id`, or undefined when unknown or expired. */
  async get<R>(id: string): Promise<JobStatus<R> | undefined> {
    // An ordered store applies a flush issued at once (none in flight) before this read; else it is awaited.
    if (this.store.ordered && this.writing === undefined) this.flush();
    else await this.settled();
    const stored = await this.store.get<StoredStatus>(this.keyOf(id));
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
