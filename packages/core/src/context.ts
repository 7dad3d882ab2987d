import type { Codec } from './codec.js';
import type { Capabilities, Driver, OutgoingMessage } from './driver.js';
import type { MetricsRecorder } from './metrics.js';
import type { RateLimiter } from './rate-limit.js';
import type { OtelInstruments } from './telemetry.js';
import type { StandardSchemaV1 } from './schema.js';
import type { Store } from './store/types.js';
import type { JobTracker } from './tracking.js';
import type { JobDefaults, QueueEvents } from './types.js';

/** What the producer and consumer halves of a queue share. Internal. */
export interface QueueContext<T> {
  readonly name: string;
  readonly codec: Codec<T>;
  readonly schema: StandardSchemaV1<unknown, T> | undefined;
  readonly defaults: JobDefaults;
  readonly strict: boolean;
  readonly maxDelayHop: number | undefined;
  /** Shared state: job records, schedule leases, rate-limit windows, fan-out bookkeeping. */
  readonly store: Store;
  /** Job records (undefined when `results: false`). */
  readonly tracker: JobTracker | undefined;
  readonly rateLimiter: RateLimiter | undefined;
  /** The queue's rate limit as configured (drivers with a native limiter enforce it themselves). */
  readonly rateLimit: { readonly max: number; readonly duration: number } | undefined;
  /** How long job records and fan-out bookkeeping live. */
  readonly resultTtlMs: number;
  readonly metrics: MetricsRecorder;
  readonly otel: OtelInstruments;
  driver(): Promise<Driver>;
  emit<K extends keyof QueueEvents<T> & string>(event: K, ...args: QueueEvents<T>[K]): void;
}

/** Longest delay one native send may carry for this queue. */
export function hopLimit(capabilities: Capabilities, maxDelayHop: number | undefined): number {
  return Math.min(capabilities.maxDelayMs, maxDelayHop ?? Number.POSITIVE_INFINITY);
}

/** Whether the core emulates priority with band queues for this driver. */
export function emulatesPriority(capabilities: Capabilities, strict: boolean): boolean {
  return capabilities.priority === 'emulated' && !strict;
}

/** Physical queue of priority band `band` (0 = the queue itself). */
export function bandQueue(driver: Driver, queue: string, band: number): string {
  if (band <= 0) return queue;
  return driver.priorityQueueName ? driver.priorityQueueName(queue, band) : `${queue}-p${band}`;
}

/** Every physical queue behind a logical queue, highest priority band first. */
export function physicalQueues(driver: Driver, queue: string, strict: boolean): string[] {
  if (!emulatesPriority(driver.capabilities, strict)) return [queue];
  const out: string[] = [];
  for (let band = 9; band >= 0; band--) out.push(bandQueue(driver, queue, band));
  return out;
}

/** Send `messages` to `queue`, split into the driver's batch size. */
export async function sendChunked(
  driver: Driver,
  queue: string,
  messages: readonly OutgoingMessage[],
): Promise<void> {
  const size = Math.max(1, driver.capabilities.maxBatchSize);
  for (let i = 0; i < messages.length; i += size) await driver.send(queue, messages.slice(i, i + size));
}

/** Encoded size of a message as the limit counts it: body plus header keys and values. */
export function messageSize(message: OutgoingMessage): number {
  let size = message.body.byteLength + Buffer.byteLength(message.name);
  for (const [key, value] of Object.entries(message.headers))
    size += Buffer.byteLength(key) + Buffer.byteLength(value);
  return size;
}
