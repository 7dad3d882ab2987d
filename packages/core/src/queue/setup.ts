import { type Codec, jsonCodec } from '../codec.js';
import type { QueueContext } from '../context.js';
import type { Driver } from '../driver.js';
import { ConfigError } from '../errors.js';
import { MetricsRecorder } from '../observability/metrics.js';
import { otelInstruments } from '../observability/telemetry.js';
import { defaultStore } from '../store/memory.js';
import type { Store } from '../store/types.js';
import type { QueueOptions } from '../types.js';
import { JobTracker } from '../workflows/job-records.js';
import { RateLimiter } from '../workflows/rate-limit.js';

const DEFAULT_RESULT_TTL_MS = 24 * 3_600_000;

/** What the queue object lends its context: the lazily connected driver, its provider name, its events. */
export interface QueueHooks<T> {
  driver(): Promise<Driver>;
  provider(): string;
  emit: QueueContext<T>['emit'];
}

/** Check the store, rate-limit and results options (the rest is checked by `validateQueueOptions`). */
function validateWorkflowOptions<T>(options: QueueOptions<T>): void {
  if (options.store !== undefined && typeof options.store?.merge !== 'function') {
    throw new ConfigError(
      'store',
      'expected a Store (MemoryStore, @queuekit/store-redis, @queuekit/store-postgres)',
    );
  }
  if (options.rateLimit !== undefined) {
    const { max, duration } = options.rateLimit;
    if (!Number.isInteger(max) || max < 1) throw new ConfigError('rateLimit.max', 'expected an integer ≥ 1');
    if (!Number.isInteger(duration) || duration < 1)
      throw new ConfigError('rateLimit.duration', 'expected an integer ≥ 1 (ms)');
  }
  if (options.results !== undefined && options.results !== false) {
    const ttl = options.results.ttl;
    if (ttl !== undefined && (!Number.isInteger(ttl) || ttl < 1))
      throw new ConfigError('results.ttl', 'expected an integer ≥ 1 (ms)');
  }
}

/** The context a queue's producer, consumer and workflows share, built from validated options. */
export function queueContext<T>(options: QueueOptions<T>, hooks: QueueHooks<T>): QueueContext<T> {
  validateWorkflowOptions(options);
  const store: Store = options.store ?? defaultStore();
  const resultTtlMs = (options.results === false ? undefined : options.results?.ttl) ?? DEFAULT_RESULT_TTL_MS;
  return {
    name: options.name,
    store,
    tracker: options.results === false ? undefined : new JobTracker(store, options.name, resultTtlMs),
    rateLimiter: options.rateLimit ? new RateLimiter(store, options.name, options.rateLimit) : undefined,
    rateLimit: options.rateLimit,
    resultTtlMs,
    metrics: new MetricsRecorder(),
    otel: otelInstruments(options.name, hooks.provider),
    codec: options.codec ?? (jsonCodec as Codec<T>),
    schema: options.schema,
    defaults: options.defaults ?? {},
    strict: options.strict ?? false,
    maxDelayHop: options.maxDelayHop,
    driver: hooks.driver,
    emit: hooks.emit,
  };
}
