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

export type { Capabilities } from './contract/capabilities.js';
export type {
  DeadLetteredMessage,
  DeadLetterInfo,
  Delivery,
  OutgoingMessage,
  ReceivedMessage,
  ReleaseInfo,
} from './contract/messages.js';
export type {
  JobState,
  NativeJobStatus,
  NativeScheduleInfo,
  NativeScheduleSpec,
  NativeWorkflows,
} from './contract/workflows.js';

import type { Capabilities } from './contract/capabilities.js';
import type { DeadLetteredMessage, Delivery, OutgoingMessage, ReceivedMessage } from './contract/messages.js';
import type { NativeWorkflows } from './contract/workflows.js';
import type { QueuekitError } from './errors.js';

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
  /**
   * Optional: the queuekit error a vendor error stands for (`LockLostError`, `BrokerUnavailableError`,
   * `AuthenticationError`...), or undefined when the driver does not know. The core applies it to every
   * error a driver call rejects with that is not already a queuekit error, and wraps what is left in a
   * `DriverError`: no untyped error reaches the application. `operation` names the call (`send`,
   * `delivery.ack`, `schedules.upsert`...). Must not throw.
   */
  classifyError?(error: unknown, operation: string): QueuekitError | undefined;
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
