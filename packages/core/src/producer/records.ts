import type { QueueContext } from '../context.js';
import type { Driver } from '../driver.js';
import { H } from '../headers.js';
import type { ChunkOutcome } from './chunks.js';
import type { PreparedMessage } from './prepare.js';

/** Job records for messages about to be sent (before the send, so no consumer can overtake them). */
export async function recordSent<T>(
  ctx: QueueContext<T>,
  driver: Driver,
  prepared: readonly PreparedMessage[],
): Promise<void> {
  const tracker = ctx.tracker;
  if (!tracker || driver.workflows?.jobs) return;
  const createdAt = Date.now();
  const writes: Promise<void>[] = [];
  for (const { message } of prepared) {
    const record = () =>
      tracker.update(message.id, {
        id: message.id,
        queue: ctx.name,
        name: message.name,
        state: message.headers[H.notBefore] ? 'delayed' : 'waiting',
        attempts: 0,
        maxAttempts: Number(message.headers[H.maxAttempts]),
        createdAt,
      });
    // A deduplicated id may already have a record (even a finished one): keep it.
    if (message.dedup)
      writes.push(tracker.get(message.id).then((existing) => (existing ? undefined : record())));
    else writes.push(record());
  }
  // Written now, as one batch, rather than at the end of the turn: the send waits for it.
  tracker.flush();
  await Promise.all(writes);
}

/** Records written for messages that were then not sent say nothing true: drop them (never a deduplicated id's). */
export async function forgetUnsent<T>(
  ctx: QueueContext<T>,
  driver: Driver,
  outcomes: readonly ChunkOutcome<PreparedMessage>[],
  accepted: ReadonlySet<string>,
): Promise<void> {
  const tracker = ctx.tracker;
  if (!tracker || driver.workflows?.jobs) return;
  const unsent = outcomes
    .filter((o) => o.error)
    .flatMap((o) => o.chunk.filter((p) => !p.message.dedup && !accepted.has(p.message.id)));
  await Promise.all(unsent.map((p) => tracker.forget(p.message.id).catch(() => undefined)));
}
