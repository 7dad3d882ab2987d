import type {
  DeadLetteredMessage,
  DriverStats,
  OutgoingMessage,
  RateLimit,
  ReceivedMessage,
  RedriveOptions,
} from '@queuekit/core';
import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  DEAD_LETTER_FIELD,
  type DeadLetterRecord,
  fromBullJob,
  type JobPlacement,
  type JobSettings,
  parseDeadLetterRecord,
  redriveMessage,
} from './wire.js';

/** What the admin, fan-out and workflow pieces use of the driver. */
export interface DriverHost {
  readonly connection: Redis;
  readonly prefix: string;
  readonly jobSettings: JobSettings;
  /** The BullMQ `Queue` of a queue name (created on first use). */
  queue(name: string): Queue;
  /** Run `work` on an open driver, rejecting only with typed, scrubbed errors. */
  run<T>(operation: string, work: () => Promise<T>): Promise<T>;
  /** Add messages as new BullMQ jobs (`copies`: every one a copy); their BullMQ ids. */
  addMessages(
    queue: string,
    messages: readonly OutgoingMessage[],
    copies?: boolean,
  ): Promise<(string | undefined)[]>;
  /** Index entries pointing the queuekit ids of numbered jobs at their BullMQ ids, for `getJob`. */
  indexNumbered(
    queue: string,
    messages: readonly OutgoingMessage[],
    placements: readonly JobPlacement[],
    ids: readonly (string | undefined)[],
  ): Promise<void>;
  /** Apply a rate limit to the consumers of `queue` in this process (now and when they start). */
  applyRateLimit(queue: string, limit: RateLimit): void;
}

const PAGE = 500;

const present = (jobs: (Job | undefined)[]): Job[] => jobs.filter((job): job is Job => !!job);

/** The dead-letter records of the jobs whose hash keys are given, read concurrently. */
export async function deadLetterRecords(
  connection: Redis,
  keys: readonly (string | undefined)[],
): Promise<(DeadLetterRecord | undefined)[]> {
  // Issued together on the one connection: none waits for the reply of another. An unreadable one is absent.
  const values = await Promise.all(
    keys.map((key) => (key === undefined ? null : connection.hget(key, DEAD_LETTER_FIELD).catch(() => null))),
  );
  return values.map(parseDeadLetterRecord);
}

/** The BullMQ states `stats` counts. */
const COUNTED = ['wait', 'prioritized', 'waiting-children', 'delayed', 'active', 'failed'] as const;

export async function queueStats(target: Queue): Promise<DriverStats> {
  const counts = await target.getJobCounts(...COUNTED);
  const n = (key: string) => counts[key] ?? 0;
  return {
    waiting: n('wait') + n('prioritized') + n('waiting-children'),
    delayed: n('delayed'),
    active: n('active'),
    deadLettered: n('failed'),
  };
}

/**
 * Waiting jobs in the order they will be served, without locking them: jobs without a priority (added by
 * plain BullMQ) first, then prioritized ones.
 */
export async function peekJobs(target: Queue, limit: number): Promise<ReceivedMessage[]> {
  const jobs = present(await target.getJobs(['wait'], 0, limit - 1, true));
  if (jobs.length < limit)
    jobs.push(...present(await target.getJobs(['prioritized'], 0, limit - jobs.length - 1, true)));
  return jobs.map((job) => fromBullJob(job));
}

/** BullMQ's failed set, oldest first, with queuekit's records. */
export async function listDeadLetters(
  host: DriverHost,
  queue: string,
  limit: number,
): Promise<DeadLetteredMessage[]> {
  const target = host.queue(queue);
  const jobs = present(await target.getJobs(['failed'], 0, limit - 1, true));
  const keys = jobs.map((job) => target.toKey(String(job.id)));
  const records = await deadLetterRecords(host.connection, keys);
  return jobs.map((job, index) => {
    const record = records[index];
    const view = fromBullJob(job);
    const error = record?.error ?? (job.failedReason || undefined);
    return {
      ...view,
      // Only while the job has not run again since (its qk-attempt would be back in the options then).
      ...(record?.h && job.attemptsStarted === 0 ? { headers: { ...record.h, ...view.headers } } : {}),
      reason: record?.reason ?? 'failed',
      ...(error === undefined ? {} : { error }),
      attempts: record?.attempts ?? job.attemptsMade,
      deadLetteredAt: new Date(record?.at ?? job.finishedOn ?? job.timestamp),
    };
  });
}

/**
 * Re-send each dead letter as a new job (its queuekit id kept, headers overwritten, count fresh), then
 * remove the failed one: at-least-once, never lost between the two steps.
 */
export async function redriveDeadLetters(
  host: DriverHost,
  queue: string,
  options: RedriveOptions,
): Promise<number> {
  const wanted = options.ids ? new Set(options.ids) : undefined;
  const target = host.queue(queue);
  let moved = 0;
  let start = 0;
  // Copies made by this call that a consumer dead-letters again meanwhile are not moved twice.
  const copies = new Set<string>();
  for (;;) {
    const page = present(await target.getJobs(['failed'], start, start + PAGE - 1, true));
    if (page.length === 0) return moved;
    for (const job of page) {
      const message = redriveMessage(job, options.headers);
      if ((wanted && !wanted.has(message.id)) || copies.has(String(job.id))) {
        start++;
        continue;
      }
      for (const id of await host.addMessages(queue, [message], true)) if (id) copies.add(id);
      await job.remove();
      moved++;
    }
  }
}

/** Delete every key of the queue (jobs, dead letters, events, metadata, queuekit's id index and schedule runs). */
export async function obliterate(connection: Redis, target: Queue): Promise<void> {
  await target.obliterate({ force: true });
  let cursor = '0';
  do {
    const [next, keys] = await connection.scan(cursor, 'MATCH', `${target.toKey('')}qk:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await connection.unlink(...keys);
  } while (cursor !== '0');
}
