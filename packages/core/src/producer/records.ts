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
  if (!ctx.tracker || driver.workflows?.jobs) return;
  const createdAt = Date.now();
  await Promise.all(
    prepared.map(async ({ message }) => {
      // A deduplicated id may already have a record (even a finished one): keep it.
      if (message.dedup && (await ctx.tracker?.get(message.id))) return;
      await ctx.tracker?.update(message.id, {
        id: message.id,
        queue: ctx.name,
        name: message.name,
        state: message.headers[H.notBefore] ? 'delayed' : 'waiting',
        attempts: 0,
        maxAttempts: Number(message.headers[H.maxAttempts]),
        createdAt,
      });
    }),
  );
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
