import type { BackoffOptions } from './semantics/backoff.js';
import type { Codec } from './codec.js';
import type { Driver } from './driver.js';
import type { RateLimit } from './workflows/rate-limit.js';
import type { StandardSchemaV1 } from './schema.js';
import type { Store } from './store/types.js';

/** A job as seen by a handler. */
export interface Job<T = unknown> {
  /** Unique id (the `jobId` given on send, or a generated UUID). */
  readonly id: string;
  /** Job name given on send. */
  readonly name: string;
  /** Decoded (and, with a schema, validated) payload. */
  readonly data: T;
  /** 1-based attempt number; survives redelivery on every provider. */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** 0-9, higher first; 0 when none was given. */
  readonly priority: number;
  /** User headers (the core's own `qk-*` headers are not included). */
  readonly headers: Readonly<Record<string, string>>;
  /** When the job was first sent. */
  readonly enqueuedAt: Date;
  /** The vendor message, untouched (escape hatch; its shape depends on the adapter). */
  readonly raw: unknown;
}

/** Options of one `send`. */
export interface SendOptions {
  /** Deliver no earlier than this many ms from now. Exclusive with `runAt`. */
  readonly delay?: number;
  /** Deliver no earlier than this time. Exclusive with `delay`. */
  readonly runAt?: Date;
  /** 0-9, higher served first among waiting jobs. */
  readonly priority?: number;
  /** Attempts before dead-lettering (default from the queue's `defaults`, else 3). */
  readonly maxAttempts?: number;
  readonly backoff?: BackoffOptions;
  /**
   * Job id and deduplication key: a second send with the same id is dropped by the broker.
   * Needs a driver with the `dedup` capability (UnsupportedFeatureError otherwise).
   */
  readonly jobId?: string;
  /** Jobs with the same key run one at a time, in order. Needs the `ordering` capability. */
  readonly orderingKey?: string;
  /** String headers carried with the job (W3C `traceparent` and the like). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** One entry of `sendBatch`. */
export interface BatchEntry<T> {
  readonly name: string;
  readonly data: T;
  readonly options?: SendOptions;
}

/** Defaults applied to every send of a queue. */
export interface JobDefaults {
  /** Default 3. */
  readonly maxAttempts?: number;
  readonly backoff?: BackoffOptions;
  readonly priority?: number;
}

/** What a handler receives besides the job. */
export interface HandlerContext {
  /** Fires when the queue is force-closed (close timeout elapsed) or the job's lock is lost. */
  readonly signal: AbortSignal;
  /** Extend the job's lock now (it is also extended automatically while the handler runs). */
  extendLock(): Promise<void>;
  /** Report progress (a number 0-100 or any JSON object): recorded for `getJob` and emitted as `progress`. */
  progress(value: number | Record<string, unknown>): Promise<void>;
  /**
   * Queue a follow-up job on this queue, sent only if the handler succeeds, before the job is
   * acknowledged (at-least-once). Its id is `<job id>-next-<n>` where the driver deduplicates
   * (so a redelivered parent does not enqueue twice); elsewhere it carries the header
   * `queuekit-chain-key` with that value for the follow-up's handler to deduplicate on.
   */
  enqueue(name: string, data: unknown, options?: SendOptions): void;
  /**
   * Append a line to the job's log where the broker keeps one (BullMQ's `job.log`, shown by Bull Board);
   * resolves at once elsewhere. Lines longer than `MAX_ERROR_TEXT` (4,096) characters are cut. A line that
   * is not a string is a ConfigError.
   */
  log(message: string): Promise<void>;
}

/** A job handler. Its resolved value is the job's result. Throw to fail the attempt. */
export type Handler<T, R = unknown> = (job: Job<T>, ctx: HandlerContext) => Promise<R> | R;

/** Options of `process`. */
export interface ProcessOptions {
  /** Most jobs in flight at once in this consumer. Default 1. */
  readonly concurrency?: number;
  /** Lock (visibility timeout) per delivery in ms, renewed automatically. Default 30,000. */
  readonly lockDuration?: number;
  /** Long-poll wait per receive in ms. Default 1,000. */
  readonly pollInterval?: number;
  /**
   * Use the backoff a message carries (`SendOptions.backoff`, header `qk-backoff`) over the queue's
   * `defaults.backoff`. Default false: any producer can write that header, so a queue with its own
   * backoff keeps it. Without `defaults.backoff` the message's policy is used either way. Whatever the
   * policy, a retry waits at least 10 ms and at most 10 years.
   */
  readonly trustMessageBackoff?: boolean;
  /**
   * Most ms one attempt may run (1 to 2^31-1). When it elapses, `ctx.signal` aborts with a
   * `JobTimeoutError` and the attempt counts as failed (retried with backoff, then dead-lettered), so
   * a hung handler gives back its lock and its concurrency slot. JavaScript cannot stop the handler's
   * own code: it should watch `ctx.signal`. Default: no timeout.
   */
  readonly timeout?: number;
}

/** Options of `close`. */
export interface CloseOptions {
  /**
   * Most ms to wait for in-flight jobs. Jobs still running then get their `signal` aborted and
   * are left unsettled, so the broker delivers them again. Default 30,000.
   */
  readonly timeout?: number;
}

/** Counts as far as the driver can tell; unknown fields are `undefined`. */
export interface QueueStats {
  readonly waiting?: number;
  readonly delayed?: number;
  /** Jobs locked by consumers, as the broker tells, else this process's in-flight count. */
  readonly active?: number;
  readonly deadLettered?: number;
}

/** A dead-lettered job, as listed. */
export interface DeadLetterRecord<T = unknown> {
  readonly id: string;
  readonly name: string;
  /** Decoded payload, or `undefined` when it could not be decoded (see `body`). */
  readonly data: T | undefined;
  /** The raw encoded payload. */
  readonly body: Uint8Array;
  /** `max-attempts`, `unrecoverable`, `invalid-payload`, `undecodable`, ... */
  readonly reason: string;
  /** Message of the last error. */
  readonly error?: string;
  /** Attempts made before dead-lettering. */
  readonly attempts: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly deadLetteredAt?: Date;
  readonly raw: unknown;
}

/** A waiting job as seen by `queue.peek()`: not locked, not consumed. */
export interface PeekedJob<T = unknown> {
  readonly id: string;
  readonly name: string;
  /** Decoded payload, or undefined when it cannot be decoded. */
  readonly data: T | undefined;
  readonly priority: number;
  readonly attempt: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly enqueuedAt?: Date;
  /** When a delayed job becomes due. */
  readonly runAt?: Date;
}

/** The dead-letter API of a queue. */
export interface DeadLetters<T> {
  /** Up to `limit` (default 100) dead-lettered jobs. */
  list(options?: { limit?: number }): Promise<DeadLetterRecord<T>[]>;
  /** Put dead-lettered jobs back on the queue with a fresh attempt count; all when `ids` is omitted. */
  redrive(ids?: readonly string[]): Promise<number>;
  /** Delete every dead-lettered job. */
  purge(): Promise<number>;
}

/** Event payloads, by event name. */
export interface QueueEvents<T> {
  /** A handler started. */
  active: [job: Job<T>];
  /** A handler reported progress. */
  progress: [job: Job<T>, progress: number | Record<string, unknown>];
  /** A handler resolved and the job was removed. */
  completed: [job: Job<T>, result: unknown];
  /** A handler threw (whatever happens next). */
  failed: [job: Job<T>, error: Error];
  /** A failed job was scheduled for another attempt after `delayMs`. */
  retrying: [job: Job<T>, error: Error, delayMs: number];
  /** A job went to the dead-letter destination. `job` is undefined when it could not be decoded. */
  'dead-lettered': [info: { id: string; name: string; reason: string; error?: string; job?: Job<T> }];
  /** A delayed job was not yet due and was parked again (a delay hop). */
  delayed: [info: { id: string; remainingMs: number }];
  /** A transport or internal error; the consumer goes on. */
  error: [error: Error];
}

/** Options of `createQueue`. Exactly one of `url` and `driver` is needed (default `memory://`). */
export interface QueueOptions<T> {
  /** Queue name. Letters, digits, `-`, `_` and `.`; 1-80 characters. */
  readonly name: string;
  /** Provider URL (`memory://`, `redis://`, `amqp://`, `sqs://`, `pubsub://`, `servicebus://`). */
  readonly url?: string;
  /** A driver instance (not closed by the queue unless `ownsDriver`). */
  readonly driver?: Driver;
  /** Close the given `driver` on `close()`. Default: true for `url`, false for `driver`. */
  readonly ownsDriver?: boolean;
  /** Standard Schema (zod, valibot, arktype...) checked on send and on receive. */
  readonly schema?: StandardSchemaV1<unknown, T>;
  /** Payload codec. Default JSON. */
  readonly codec?: Codec<T>;
  readonly defaults?: JobDefaults;
  /**
   * Refuse emulation: a priority on a driver without native priority throws
   * UnsupportedFeatureError instead of using priority bands. Default false.
   */
  readonly strict?: boolean;
  /**
   * Cap on one native delay, below the driver's own; longer delays hop. Mostly for tests and
   * for brokers whose limit is lower than they advertise. Default: the driver's `maxDelayMs`.
   */
  readonly maxDelayHop?: number;
  /**
   * Store for job records (`getJob`), schedules, rate limits and fan-outs. Default: a process-local
   * MemoryStore. Use `@queuekit/store-redis` or `@queuekit/store-postgres` to share it between processes.
   */
  readonly store?: Store;
  /** Job records: `false` to disable, or how long they live (`ttl` ms, default 24 h). */
  readonly results?: false | { readonly ttl?: number };
  /** At most `max` jobs per `duration` ms across every consumer sharing the store. */
  readonly rateLimit?: RateLimit;
}
