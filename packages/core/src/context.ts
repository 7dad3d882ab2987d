import type { Codec } from './codec.js';
import type { Driver } from './driver.js';
import type { MetricsRecorder } from './observability/metrics.js';
import type { RateLimiter } from './workflows/rate-limit.js';
import type { OtelInstruments } from './observability/telemetry.js';
import type { StandardSchemaV1 } from './schema.js';
import type { Store } from './store/types.js';
import type { JobTracker } from './workflows/job-records.js';
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
