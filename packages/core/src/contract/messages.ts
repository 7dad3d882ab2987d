/** The messages and deliveries that cross the driver contract. */

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
  /**
   * Optional: hide the message for `ms` (≤ `capabilities.maxDelayMs`) without counting a delivery: on its
   * next delivery `deliveryCount` is what it is now. The core defers a message that arrived before its
   * `qk-not-before`, so arriving early never uses up an attempt. A settlement, like `release`. Without it,
   * the core re-sends a copy and acks the original.
   */
  defer?(ms: number): Promise<void>;
  /** Optional: append a line to the job's log in the broker (BullMQ `job.log`), for brokers whose tools show one. */
  log?(line: string): Promise<void>;
}

/** A dead-lettered message, as listed. */
export interface DeadLetteredMessage extends ReceivedMessage, DeadLetterInfo {
  readonly deadLetteredAt?: Date;
}
