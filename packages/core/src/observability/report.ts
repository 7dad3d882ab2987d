import { errorMessage } from '../errors.js';
import type { MetricsRecorder } from './metrics.js';
import type { OtelInstruments } from './telemetry.js';
import type { Job, QueueEvents } from '../types.js';

/** Something that happened to a job or a delivery: one call updates the events, counters and meters it concerns. */
export type Report<T> =
  | { readonly type: 'active'; readonly job: Job<T> }
  | { readonly type: 'progress'; readonly job: Job<T>; readonly value: number | Record<string, unknown> }
  /** A handler ended (a failure counts as a failed attempt); `durationMs` feeds the histogram when known. */
  | { readonly type: 'handled'; readonly outcome: 'completed' | 'failed'; readonly durationMs?: number }
  | { readonly type: 'completed'; readonly job: Job<T>; readonly result: unknown }
  | { readonly type: 'failed'; readonly job: Job<T>; readonly error: Error }
  | { readonly type: 'retrying'; readonly job: Job<T>; readonly error: Error; readonly delayMs: number }
  | ({ readonly type: 'dead-lettered' } & QueueEvents<T>['dead-lettered'][0])
  | { readonly type: 'delayed'; readonly id: string; readonly remainingMs: number }
  /** A delivery that is a redelivery after a crash or a lost lock. */
  | { readonly type: 'stalled' }
  | { readonly type: 'lock-extended' }
  | { readonly type: 'lock-lost'; readonly error?: Error }
  | { readonly type: 'sent'; readonly count: number }
  | { readonly type: 'error'; readonly error: unknown };

/** Where reports go: the queue's events, its `metrics()` counters and its OpenTelemetry instruments. */
export interface ReportSink<T> {
  readonly metrics: MetricsRecorder;
  readonly otel: OtelInstruments;
  emit<K extends keyof QueueEvents<T> & string>(event: K, ...args: QueueEvents<T>[K]): void;
}

/** Record `event` everywhere it belongs. */
export function report<T>(sink: ReportSink<T>, event: Report<T>): void {
  const { metrics, otel } = sink;
  switch (event.type) {
    case 'active':
      sink.emit('active', event.job);
      return;
    case 'progress':
      sink.emit('progress', event.job, event.value);
      return;
    case 'handled':
      if (event.durationMs !== undefined) {
        metrics.observeDuration(event.durationMs);
        otel.duration(event.durationMs, event.outcome);
      }
      if (event.outcome === 'failed') {
        metrics.failed++;
        otel.count('failed');
      }
      return;
    case 'completed':
      metrics.completed++;
      otel.count('completed');
      sink.emit('completed', event.job, event.result);
      return;
    case 'failed':
      sink.emit('failed', event.job, event.error);
      return;
    case 'retrying':
      metrics.retried++;
      otel.count('retried');
      sink.emit('retrying', event.job, event.error, event.delayMs);
      return;
    case 'dead-lettered': {
      metrics.deadLettered++;
      otel.count('dead-lettered');
      const { type: _, ...info } = event;
      sink.emit('dead-lettered', info);
      return;
    }
    case 'delayed':
      sink.emit('delayed', { id: event.id, remainingMs: event.remainingMs });
      return;
    case 'stalled':
      metrics.stalled++;
      otel.count('stalled');
      return;
    case 'lock-extended':
      metrics.lockExtensions++;
      otel.count('lock-extended');
      return;
    case 'lock-lost':
      metrics.locksLost++;
      otel.count('lock-lost');
      if (event.error) sink.emit('error', event.error);
      return;
    case 'sent':
      metrics.sent += event.count;
      for (let i = 0; i < event.count; i++) otel.count('sent');
      return;
    case 'error':
      sink.emit('error', asError(event.error));
      return;
  }
}

/** `value` as an Error (a thrown non-Error becomes an Error with its text). */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(errorMessage(value));
}
