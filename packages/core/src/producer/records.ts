import type { QueueContext } from '../context.js';
import type { Driver, OutgoingMessage } from '../driver.js';
import { H } from '../headers.js';
import type { JobTracker } from '../workflows/job-records.js';
import type { ChunkOutcome } from './chunks.js';
import type { PreparedMessage } from './prepare.js';

/**
 * Job records for messages about to be sent (before the send, so no consumer can overtake them). Answers
 * the messages whose record could not be written, with the error (undefined when every one was): the
 * caller fails those and may send the others.
 */
export async function recordSent<T, P extends PreparedMessage>(
  ctx: QueueContext<T>,
  driver: Driver,
  prepared: readonly P[],
): Promise<Map<P, unknown> | undefined> {
  const tracker = ctx.tracker;
  if (!tracker || driver.workflows?.jobs) return undefined;
  const createdAt = Date.now();
  // Failed writes by job id. One promise per flush, not per job: the records of one call share a flush.
  const failed = new Map<string, unknown>();
  const writes: Promise<unknown>[] = [];
  let last: Promise<unknown> | undefined;
  for (const { message } of prepared) {
    // A deduplicated id may already have a record (even a finished one): keep it.
    if (message.dedup)
      writes.push(
        tracker
          .get(message.id)
          .then((existing) => (existing ? undefined : record(tracker, ctx.name, message, createdAt, failed)))
          .catch((error: unknown) => noteFailure(failed, error, message.id)),
      );
    else {
      const written = record(tracker, ctx.name, message, createdAt, failed);
      if (written !== last) writes.push(written);
      last = written;
    }
  }
  // Written now, as one batch, rather than at the end of the turn: the send waits for it.
  tracker.flush();
  await Promise.all(writes);
  if (failed.size === 0) return undefined;
  // Some write failed (rare): which ones, each with its own error.
  const failures = new Map<P, unknown>();
  for (const p of prepared) if (failed.has(p.message.id)) failures.set(p, failed.get(p.message.id));
  return failures;
}

/** The first failure of job `id`'s record. */
function noteFailure(failed: Map<string, unknown>, error: unknown, id: string): void {
  if (!failed.has(id)) failed.set(id, error);
}

/** The record of a message sent now; a failure goes to `failed` (the promise never rejects). */
function record(
  tracker: JobTracker,
  queue: string,
  message: OutgoingMessage,
  createdAt: number,
  failed: Map<string, unknown>,
): Promise<void> {
  const { id } = message;
  return tracker.record(
    id,
    {
      id,
      queue,
      name: message.name,
      state: message.headers[H.notBefore] ? 'delayed' : 'waiting',
      attempts: 0,
      maxAttempts: Number(message.headers[H.maxAttempts]),
      createdAt,
    },
    noteFailure,
    failed,
  );
}

/** Records written for messages that were then not sent say nothing true: drop them (never a deduplicated id's). */
export async function forgetUnsent<T>(
  ctx: QueueContext<T>,
  driver: Driver,
  outcomes: readonly ChunkOutcome<PreparedMessage>[],
  accepted: ReadonlySet<string>,
): Promise<void> {
  const unsent = outcomes
    .filter((o) => o.error)
    .flatMap((o) => o.chunk.filter((p) => !accepted.has(p.message.id)));
  await forgetRecords(ctx, driver, unsent);
}

/** Drop the records written for `prepared`, which are not sent (a deduplicated id's record is kept: it may be older). */
export async function forgetRecords<T>(
  ctx: QueueContext<T>,
  driver: Driver,
  prepared: readonly PreparedMessage[],
): Promise<void> {
  const tracker = ctx.tracker;
  if (!tracker || driver.workflows?.jobs) return;
  const unsent = prepared.filter((p) => !p.message.dedup);
  await Promise.all(unsent.map((p) => tracker.forget(p.message.id).catch(() => undefined)));
}
