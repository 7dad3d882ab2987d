import type { QueueContext } from '../context.js';
import type { Driver } from '../driver.js';
import { type Report, report } from '../observability/report.js';
import type { RetryPolicy } from '../semantics/outcome.js';
import type { PriorityBands } from '../semantics/priority.js';
import type { JobTracker } from '../workflows/job-records.js';
import type { LockHeartbeat } from './heartbeat.js';

/** A job-record change, as the tracker takes it. */
export type RecordPatch = Parameters<JobTracker['update']>[1];

/** What the pieces of one running consumer share once its driver is connected. Internal. */
export interface ConsumerScope<T> {
  readonly ctx: QueueContext<T>;
  readonly driver: Driver;
  readonly bands: PriorityBands;
  readonly heartbeat: LockHeartbeat;
  /** Aborted when a close times out: unsettled jobs are then left to the broker's redelivery. */
  readonly forced: AbortSignal;
  readonly policy: RetryPolicy;
  /** The broker keeps job records; the core writes none. */
  readonly nativeJobs: boolean;
}

/** Report through the queue's events and counters. */
export function reportTo<T>(scope: ConsumerScope<T>, event: Report<T>): void {
  report(scope.ctx, event);
}

const DONE = Promise.resolve();

/** Whether the core writes job records for this consumer (a tracker, and a broker that keeps none itself). */
export function recording<T>(scope: ConsumerScope<T>): boolean {
  return !scope.nativeJobs && scope.ctx.tracker !== undefined;
}

/** A job record's write failed: reported as the queue's error. */
function recordFailed<T>(ctx: ConsumerScope<T>['ctx'], error: unknown): void {
  report(ctx, { type: 'error', error });
}

/**
 * Record a state change in the job records; a store failure is reported, never fatal to the job. Resolves
 * once written (or reported). Through `JobTracker.record`: no promise or closure of its own per update.
 */
export function recordJob<T>(scope: ConsumerScope<T>, id: string, patch: RecordPatch): Promise<void> {
  const tracker = scope.ctx.tracker;
  if (scope.nativeJobs || !tracker) return DONE;
  return tracker.record(id, patch, recordFailed, scope.ctx);
}
