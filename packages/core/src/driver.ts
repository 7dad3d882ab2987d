/**
 * The Driver contract: the only interface an adapter implements.
 *
 * A driver moves opaque messages (bytes plus string headers) between producers and consumers of a
 * named queue. It owns transport only. Retries, attempt counting, backoff, validation, codecs,
 * delay hops and priority emulation belong to the core, which calls the driver through this
 * interface. No vendor type crosses it: vendor objects travel only as `raw: unknown`.
 *
 * Versioned with {@link DRIVER_API_VERSION}; a driver states the version it implements.
 *
 * @packageDocumentation
 */

/** Version of this contract. Bumped on any breaking change to {@link Driver}. */
export const DRIVER_API_VERSION = 1 as const;

/**
 * What a driver can do natively. The core reads these to decide between the broker's own
 * mechanism, its portable emulation, or an {@link UnsupportedFeatureError}. The conformance suite
 * gates optional cases on these values only.
 */
export interface Capabilities {
  /**
   * Longest delay, in milliseconds, the driver honours on `send` (`OutgoingMessage.delayMs`).
   * `Infinity` for unbounded. Must be > 0: a driver without native delay emulates it up to a
   * bound of its choice. Longer delays are split into hops by the core.
   */
  readonly maxDelayMs: number;
  /**
   * `native`: the broker orders waiting messages by `priority` (0-9, higher first).
   * `emulated`: no native priority; the core emulates it with one queue per priority band
   * (unless the queue is `strict`). `none`: a priority on send is an UnsupportedFeatureError.
   */
  readonly priority: 'native' | 'emulated' | 'none';
  /** The broker drops a second message with the same `id` when `dedup` is set on send. */
  readonly dedup: boolean;
  /** Messages sharing an `orderingKey` are delivered one at a time, in send order. */
  readonly ordering: boolean;
  /** Largest number of messages accepted by one `send` call without splitting (1 = no batching). */
  readonly maxBatchSize: number;
  /** `Delivery.extendLock` is available (the core heartbeats long handlers through it). */
  readonly lockRenewal: boolean;
  /**
   * `timeout`: an unsettled delivery comes back when its lock expires (`lockMs`).
   * `connection`: it comes back when the consumer's connection drops (AMQP 0-9-1).
   */
  readonly redelivery: 'timeout' | 'connection';
  /**
   * `exact`: `ReceivedMessage.deliveryCount` counts every delivery of the physical message.
   * `flag`: the broker only says "delivered before" (RabbitMQ classic queues): `deliveryCount` is 1 or 2.
   * The core then keeps the attempt count itself (it re-sends a redelivered message as a copy with
   * its attempt bumped before any handler runs), so a crash-looping job still reaches `maxAttempts`.
   * Optional for drivers written against earlier minor versions; absent means `exact`.
   */
  readonly deliveryCount?: 'exact' | 'flag';
  /** Dead-lettering uses a broker feature (`native`) or the driver's own queue (`emulated`). */
  readonly deadLetter: 'native' | 'emulated';
  /** Largest encoded message the broker accepts (body plus headers), in bytes. */
  readonly maxPayloadBytes: number;
}

/** A message on its way to the broker. */
export interface OutgoingMessage {
  /** Job id. When `dedup` is set it is also the deduplication key. */
  readonly id: string;
  /** Job name (a routing or display label; BullMQ's job name). */
  readonly name: string;
  /** Encoded payload. */
  readonly body: Uint8Array;
  /** String headers. Keys starting with `qk-` belong to the core; a driver stores them verbatim. */
  readonly headers: Readonly<Record<string, string>>;
  /** Hide the message for this many ms (≤ `capabilities.maxDelayMs`). Never deliver earlier. */
  readonly delayMs?: number;
  /** 0-9, higher first. Only set when `capabilities.priority === 'native'`. */
  readonly priority?: number;
  /** Only set when `capabilities.ordering`. */
  readonly orderingKey?: string;
  /** Ask the broker to drop duplicates of `id`. Only set when `capabilities.dedup`. */
  readonly dedup?: boolean;
}

/** A message as delivered by the broker. */
export interface ReceivedMessage {
  /** Job id as sent (or the broker's own id for messages not sent by queuekit). */
  readonly id: string;
  /** Job name, when the broker carries one. The core falls back to the `qk-name` header. */
  readonly name?: string;
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
  /**
   * How many times this physical message has been delivered, this delivery included (1-based).
   * A driver that only knows a "redelivered" flag reports 2 when it is set.
   */
  readonly deliveryCount: number;
  /** When the broker accepted the message, if known. */
  readonly enqueuedAt?: Date;
  readonly priority?: number;
  readonly orderingKey?: string;
  /** The vendor's message object, untouched. */
  readonly raw: unknown;
}

/** Why and with what error a message was dead-lettered. */
export interface DeadLetterInfo {
  /** Machine-readable reason: `max-attempts`, `unrecoverable`, `invalid-payload`, `undecodable`, ... */
  readonly reason: string;
  /** Last error message, if any. */
  readonly error?: string;
  /** Attempts made, as counted by the core. */
  readonly attempts?: number;
  /** Optional: stack trace of the last error, for brokers whose tools show one (BullMQ `stacktrace`). */
  readonly stack?: string;
}

/** Optional: why a delivery is released for a retry (the handler's error), for brokers whose tools show it. */
export interface ReleaseInfo {
  /** The error message of the attempt that failed. */
  readonly error?: string;
  /** Its stack trace. */
  readonly stack?: string;
}

/** A received message plus the operations that settle it. Exactly one settle call wins. */
export interface Delivery extends ReceivedMessage {
  /**
   * Optional: when the lock taken by `receive` (or the last `extendLock`) runs out, in epoch ms, as far
   * as the driver can tell. The core's heartbeat renews from this, not from when the handler started.
   */
  readonly lockedUntil?: number;
  /**
   * Remove the message: the job is done. Rejects with LockLostError if the lock was lost. `result` is
   * the handler's resolved value; drivers with `workflows.jobs` keep it for `getJob`, others ignore it.
   */
  ack(result?: unknown): Promise<void>;
  /**
   * Optional: settle as done and send `followUps` in one atomic step (an AMQP transaction, a Redis
   * script...), so a follow-up exists if and only if its parent completed. Without it, the core sends
   * the follow-ups, then acks (at-least-once, with deterministic ids where the driver deduplicates).
   */
  ackWith?(
    followUps: readonly { readonly queue: string; readonly messages: readonly OutgoingMessage[] }[],
    result?: unknown,
  ): Promise<void>;
  /** Optional (drivers with `workflows.jobs`): record the job's progress in the broker. */
  progress?(value: unknown): Promise<void>;
  /** Move the message to the dead-letter destination with `info`, atomically where possible. */
  deadLetter(info: DeadLetterInfo): Promise<void>;
  /**
   * Optional: release the message back to the queue in place, visible again after `delayMs`
   * (≤ `capabilities.maxDelayMs`), its `deliveryCount` incremented on the next delivery. Without
   * it, the core re-sends a copy with updated headers and acks the original. `info` (optional) carries
   * the failed attempt's error for brokers that store it with the message.
   */
  release?(delayMs: number, info?: ReleaseInfo): Promise<void>;
  /** Optional (see `capabilities.lockRenewal`): keep the lock for `ms` more from now. */
  extendLock?(ms: number): Promise<void>;
}

/** A dead-lettered message, as listed. */
export interface DeadLetteredMessage extends ReceivedMessage, DeadLetterInfo {
  readonly deadLetteredAt?: Date;
}

/** Arguments to {@link Driver.receive}. */
export interface ReceiveOptions {
  /** Return at most this many deliveries. The core never has more unsettled than its concurrency. */
  readonly max: number;
  /** Long-poll up to this long when nothing is available; 0 returns at once. */
  readonly waitMs: number;
  /** Lock (visibility timeout / ack deadline) for the returned deliveries. */
  readonly lockMs: number;
  /** Fires when the consumer stops; the driver resolves promptly (with what it has, possibly []). */
  readonly signal: AbortSignal;
}

/** Counts as far as the broker can tell; fields it cannot tell are left out. */
export interface DriverStats {
  readonly waiting?: number;
  readonly delayed?: number;
  readonly active?: number;
  readonly deadLettered?: number;
}

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

/** A job record kept by the broker. */
export interface NativeJobStatus {
  readonly name: string;
  readonly state: JobState;
  readonly progress?: unknown;
  readonly result?: unknown;
  readonly error?: string;
  /** Dead-letter reason for failed jobs. */
  readonly reason?: string;
  readonly attempts: number;
  readonly maxAttempts?: number;
  readonly createdAt?: Date;
  readonly startedAt?: Date;
  readonly finishedAt?: Date;
}

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

/** Options for {@link Driver.redriveDeadLetters}. */
export interface RedriveOptions {
  /** Only these job ids; all when omitted. */
  readonly ids?: readonly string[];
  /** Headers to overwrite on the re-sent copy (the core resets its attempt count here). */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The transport contract. One driver instance is one connection (or client) to one broker;
 * queue names are arguments, so one driver serves many queues. All methods may be called
 * concurrently. Queues (and their dead-letter destinations) are created on first use unless
 * the driver's own options say otherwise.
 */
export interface Driver {
  /** Contract version implemented. */
  readonly apiVersion: typeof DRIVER_API_VERSION;
  /** Short provider name: `memory`, `bullmq`, `rabbitmq`, `sqs`, `pubsub`, `servicebus`. */
  readonly provider: string;
  readonly capabilities: Capabilities;
  /** Send messages; resolves once the broker has durably accepted every one of them. */
  send(queue: string, messages: readonly OutgoingMessage[]): Promise<void>;
  /** Take up to `max` messages under lock. */
  receive(queue: string, options: ReceiveOptions): Promise<Delivery[]>;
  stats(queue: string): Promise<DriverStats>;
  /** Newest-first or oldest-first, as the broker allows; at most `limit`. Does not consume. */
  listDeadLetters(queue: string, limit: number): Promise<DeadLetteredMessage[]>;
  /** Move dead-lettered messages back to the queue; resolves with the count moved. */
  redriveDeadLetters(queue: string, options: RedriveOptions): Promise<number>;
  /** Delete every dead-lettered message of the queue; resolves with the count deleted. */
  purgeDeadLetters(queue: string): Promise<number>;
  /**
   * Optional: name of the physical queue for an emulated priority band (1-9) of `queue`.
   * Default: `${queue}-p${band}`.
   */
  priorityQueueName?(queue: string, band: number): string;
  /**
   * Optional: up to `limit` waiting messages, without locking or consuming them (tooling: `queuekit peek`).
   * Order as the broker keeps it. Without it, `queue.peek()` throws UnsupportedFeatureError.
   */
  peek?(queue: string, limit: number): Promise<ReceivedMessage[]>;
  /**
   * Optional: header names this driver interprets itself (e.g. `x-delivery-count`), compared
   * case-insensitively. The core refuses them in user headers on send with a ConfigError, as it does `qk-*`.
   */
  readonly reservedHeaders?: readonly string[];
  /** Optional: workflow features the broker provides natively (BullMQ job schedulers, limiter, job data). */
  readonly workflows?: NativeWorkflows;
  /** Optional: delete the queue and its dead letters (tests and tooling). */
  deleteQueue?(queue: string): Promise<void>;
  /** Release every connection. Unsettled deliveries are left to the broker's redelivery. */
  close(): Promise<void>;
}

/** What an adapter package exports for URL-based loading. */
export interface DriverFactoryOptions {
  /** The queue URL, secrets included. Drivers must never print it (see `redactUrl`). */
  readonly url: string;
}

/** Signature of an adapter package's `createDriver` export. */
export type DriverFactory = (options: DriverFactoryOptions) => Driver | Promise<Driver>;
