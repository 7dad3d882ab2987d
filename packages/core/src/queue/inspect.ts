import { type Codec, decodeOrUndefined } from '../codec.js';
import type { Driver } from '../driver.js';
import { UnsupportedFeatureError } from '../errors.js';
import { readMessage } from '../driver-kit/read-message.js';
import type { MetricsRecorder, QueueMetrics } from '../observability/metrics.js';
import type { PriorityBands } from '../semantics/priority.js';
import type { PeekedJob, QueueStats } from '../types.js';
import type { JobStatus, JobTracker } from '../workflows/job-records.js';

/** Up to `limit` waiting jobs, highest band first, without consuming them. */
export async function peekJobs<T>(
  driver: Driver,
  bands: PriorityBands,
  codec: Codec<T>,
  limit: number,
): Promise<PeekedJob<T>[]> {
  const peek = driver.peek;
  if (!peek) throw new UnsupportedFeatureError('peek', driver.provider);
  return bands.collect(limit, async (queue, room) =>
    (await peek.call(driver, queue, room)).map((message): PeekedJob<T> => {
      const { id, name, priority, attempt, headers, enqueuedAt, runAt } = readMessage(message);
      return {
        id,
        name,
        data: decodeOrUndefined(codec, message.body),
        priority,
        attempt,
        headers,
        ...(enqueuedAt ? { enqueuedAt } : {}),
        ...(runAt ? { runAt } : {}),
      };
    }),
  );
}

/** Counts summed over the bands. `active` falls back to `localActive` (this process's in-flight jobs). */
export async function queueStats(
  driver: Driver,
  bands: PriorityBands,
  localActive: number | undefined,
): Promise<QueueStats> {
  const totals: { waiting?: number; delayed?: number; active?: number; deadLettered?: number } = {};
  for (const queue of bands.queues) {
    const stats = await driver.stats(queue);
    for (const key of ['waiting', 'delayed', 'active', 'deadLettered'] as const) {
      const value = stats[key];
      if (value !== undefined) totals[key] = (totals[key] ?? 0) + value;
    }
  }
  if (totals.active === undefined && localActive !== undefined) totals.active = localActive;
  return totals;
}

/** Broker depth plus this process's counters. */
export function queueMetrics(stats: QueueStats, m: MetricsRecorder): QueueMetrics {
  return {
    ...stats,
    completed: m.completed,
    failed: m.failed,
    retried: m.retried,
    deadLetteredTotal: m.deadLettered,
    sent: m.sent,
    lockExtensions: m.lockExtensions,
    locksLost: m.locksLost,
    stalled: m.stalled,
    processingDuration: m.histogram(),
  };
}

/** A job's status: from the broker's records where it keeps them, else from the core's. */
export async function jobStatus<R>(
  driver: Driver,
  queue: string,
  tracker: JobTracker | undefined,
  id: string,
): Promise<JobStatus<R> | undefined> {
  const native = driver.workflows?.jobs;
  if (native) {
    const status = await native.get(queue, id);
    if (!status) return undefined;
    const updatedAt = status.finishedAt ?? status.startedAt ?? status.createdAt ?? new Date();
    return {
      ...status,
      id,
      queue,
      updatedAt,
      ...(status.result === undefined ? {} : { result: status.result as R }),
    } as JobStatus<R>;
  }
  return tracker?.get<R>(id);
}
