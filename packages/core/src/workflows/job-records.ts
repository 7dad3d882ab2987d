import { capErrorText } from '../error-text.js';
import type { JobState } from '../driver.js';
import type { Store } from '../store/types.js';

export type { JobState };

/** What `queue.getJob(id)` answers: the status endpoint of the 202 Accepted pattern. */
export interface JobStatus<R = unknown> {
  readonly id: string;
  readonly queue: string;
  readonly name: string;
  readonly state: JobState;
  /** Last value given to `ctx.progress()`. */
  readonly progress?: number | Record<string, unknown>;
  /** The handler's resolved value (completed jobs). */
  readonly result?: R;
  /** Last error message (failed attempts and dead-lettered jobs). */
  readonly error?: string;
  /** Dead-letter reason (`max-attempts`, `unrecoverable`, ...), for failed jobs. */
  readonly reason?: string;
  /** Attempts started so far. */
  readonly attempts: number;
  readonly maxAttempts?: number;
  readonly createdAt?: Date;
  readonly startedAt?: Date;
  readonly finishedAt?: Date;
  readonly updatedAt: Date;
}

interface StoredStatus {
  id: string;
  queue: string;
  name: string;
  state: JobState;
  progress?: number | Record<string, unknown>;
  result?: unknown;
  error?: string;
  reason?: string;
  attempts?: number;
  maxAttempts?: number;
  createdAt?: number;
  startedAt?: number;
  finishedAt?: number;
  updatedAt: number;
}

/** States after which a record only answers `getJob`. */
const FINISHED: ReadonlySet<JobState> = new Set<JobState>(['completed', 'failed']);

const date = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));

/**
 * Records job states, progress and results in a {@link Store}. Writes for one job are applied in
 * order (each waits for the previous), so a slow write can never bring back an older state.
 */
export class JobTracker {
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    readonly store: Store,
    private readonly queue: string,
    private readonly ttlMs: number,
  ) {}

  private key(id: string): string {
    return `qk:job:${this.queue}:${id}`;
  }

  /** Apply `patch` after every earlier write for `id`; resolves when written. */
  update(id: string, patch: Partial<StoredStatus>): Promise<void> {
    const capped = typeof patch.error === 'string' ? { ...patch, error: capErrorText(patch.error) } : patch;
    // A finished record may be dropped early by a bounded store; any other state is live again.
    const evictable = patch.state === undefined ? {} : { evictable: FINISHED.has(patch.state) };
    const write = () =>
      this.store.merge(
        this.key(id),
        { ...capped, updatedAt: Date.now() },
        { ttlMs: this.ttlMs, ...evictable },
      );
    if (this.store.ordered) return write();
    const previous = this.chains.get(id);
    const next = previous ? previous.catch(() => undefined).then(write) : write();
    this.chains.set(id, next);
    const forget = () => {
      if (this.chains.get(id) === next) this.chains.delete(id);
    };
    next.then(forget, forget);
    return next;
  }

  /** Drop the record of `id` (a job recorded as sent whose send failed), after every earlier write for it. */
  async forget(id: string): Promise<void> {
    await this.chains.get(id)?.catch(() => undefined);
    await this.store.delete(this.key(id));
  }

  /** The status of job `id`, or undefined when unknown or expired. */
  async get<R>(id: string): Promise<JobStatus<R> | undefined> {
    await this.chains.get(id)?.catch(() => undefined);
    const stored = await this.store.get<StoredStatus>(this.key(id));
    if (!stored?.state) return undefined;
    const status: JobStatus<R> = {
      id: stored.id ?? id,
      queue: stored.queue ?? this.queue,
      name: stored.name ?? 'default',
      state: stored.state,
      attempts: stored.attempts ?? 0,
      updatedAt: new Date(stored.updatedAt),
      ...(stored.progress === undefined ? {} : { progress: stored.progress }),
      ...(stored.result === undefined ? {} : { result: stored.result as R }),
      ...(stored.error === undefined ? {} : { error: stored.error }),
      ...(stored.reason === undefined ? {} : { reason: stored.reason }),
      ...(stored.maxAttempts === undefined ? {} : { maxAttempts: stored.maxAttempts }),
      ...(stored.createdAt === undefined ? {} : { createdAt: date(stored.createdAt) }),
      ...(stored.startedAt === undefined ? {} : { startedAt: date(stored.startedAt) }),
      ...(stored.finishedAt === undefined ? {} : { finishedAt: date(stored.finishedAt) }),
    };
    return status;
  }
}
