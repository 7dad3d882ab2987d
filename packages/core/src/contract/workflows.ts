import type { OutgoingMessage, ReceivedMessage } from './messages.js';

/** Job states as `getJob` reports them. `failed` means dead-lettered. */
export type JobState = 'waiting' | 'delayed' | 'active' | 'retrying' | 'completed' | 'failed';

/** When a recurring job runs: a cron pattern (with time zone) or a fixed interval in ms. */
export interface NativeScheduleSpec {
  readonly cron?: string;
  readonly every?: number;
  readonly tz?: string;
}

/** A recurring job kept by the broker. */
export interface NativeScheduleInfo extends NativeScheduleSpec {
  readonly name: string;
  readonly nextRunAt?: Date;
  readonly lastRunAt?: Date;
  /** The message every run is made from (as given to `upsert`). */
  readonly template?: ReceivedMessage;
}

/**
 * The fields of a job record, whoever keeps it: the broker ({@link NativeJobStatus}) or the core's store
 * (`JobStatus`, which adds `id`, `queue` and `updatedAt`). The one definition of the record's shape.
 */
export interface JobRecordFields<R = unknown, P = unknown> {
  readonly name: string;
  readonly state: JobState;
  /** Last value given to `ctx.progress()`. */
  readonly progress?: P;
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
}

/** A job record kept by the broker. */
export type NativeJobStatus = JobRecordFields;

/**
 * Optional workflow features a broker provides natively. The core uses each one that is present and
 * falls back to its store-based implementation for the others; users see the same behaviour.
 */
export interface NativeWorkflows {
  /** Deliveries implement `ackWith`: a follow-up exists if and only if its parent completed. */
  readonly atomicFollowUps?: boolean;
  /**
   * Recurring jobs kept by the broker: exactly one run per tick whatever the number of consumers, none lost
   * while no consumer runs. Each run is delivered with the template's headers plus `queuekit-tick`
   * (ISO time of its tick).
   */
  readonly schedules?: {
    upsert(queue: string, name: string, spec: NativeScheduleSpec, template: OutgoingMessage): Promise<void>;
    remove(queue: string, name: string): Promise<boolean>;
    list(queue: string): Promise<NativeScheduleInfo[]>;
  };
  /**
   * Fan-out kept by the broker (BullMQ flows): send the chunk messages to `queue` and hold `reduce` until
   * every chunk has finished, completed (`ack(result)`) or dead-lettered. The reduce message is then
   * delivered once, its body replaced by the JSON of `{ parentId, results, failed }`: `results[i]` is
   * chunk i's result or null, `failed` lists `{ index, reason, error }` of dead-lettered chunks (chunk
   * i carries headers `qk-fanout-parent` and `qk-fanout-index`). Without it, the core keeps this
   * bookkeeping in its store.
   */
  fanOut?(
    queue: string,
    chunks: readonly OutgoingMessage[],
    reduce: { readonly queue: string; readonly message: OutgoingMessage },
  ): Promise<void>;
  /** Enforce at most `max` jobs per `duration` ms across every consumer of `queue`. */
  setRateLimit?(queue: string, limit: { readonly max: number; readonly duration: number }): Promise<void>;
  /**
   * Job records kept by the broker (state, progress via `Delivery.progress`, result via `ack(result)`):
   * the core then keeps none in its store.
   */
  readonly jobs?: {
    get(queue: string, id: string): Promise<NativeJobStatus | undefined>;
  };
}
