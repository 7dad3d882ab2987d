/**
 * queuekit core: one job-queue API over many brokers.
 *
 * @packageDocumentation
 */
export { backoffDelay, type BackoffOptions, DEFAULT_BACKOFF } from './semantics/backoff.js';
export { binaryCodec, type Codec, jsonCodec, textCodec, utf8 } from './codec.js';
export { attemptInfo } from './semantics/attempts.js';
export * from './driver.js';
export * from './errors.js';
export { H as CORE_HEADERS } from './headers.js';
export { MemoryBroker } from './memory/broker.js';
export { createMemoryDriver, MemoryDriver, type MemoryDriverOptions } from './memory/driver.js';
export { createQueue, type Consumer, type Producer, Queue } from './queue/queue.js';
export { type BandNaming, PriorityBands } from './semantics/priority.js';
export { ADAPTER_PACKAGES, driverFromUrl, registerScheme, schemeOf } from './registry.js';
export { isSecretName, redactUrl, secretsOf } from './redact.js';
export {
  type CredentialCommandOption,
  Scrubber,
  type ScrubberOptions,
  scrubError,
  scrubSecrets,
} from './scrubber.js';
export { abortableDelay } from './timers.js';
export type { StandardResult, StandardSchemaV1 } from './schema.js';
export type * from './types.js';
export { MemoryStore } from './store/memory.js';
export type { Store, StoreMerge, StoreSetOptions, StoreTtlOptions } from './store/types.js';
export type { FanOutOptions, FanOutResult, ReduceData } from './workflows/fanout/model.js';
export type { RateLimit } from './workflows/rate-limit.js';
export type { ScheduleInfo, ScheduleSpec } from './workflows/schedules.js';
export type { JobStatus } from './workflows/job-records.js';
export type { DurationHistogram, QueueMetrics } from './observability/metrics.js';
export { capErrorText, MAX_ERROR_TEXT } from './error-text.js';
export { MAX_DURATION_MS } from './config.js';
export { HEADER_BOUNDS } from './headers.js';
export {
  type LinkedSignal,
  lifetimeController,
  linkSignals,
  MAX_TIMER_MS,
  type SafeTimer,
  safeTimeout,
  settlesWithin,
} from './timers.js';
