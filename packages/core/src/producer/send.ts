import type { QueueContext } from '../context.js';
import { PartialSendError } from '../errors.js';
import { acceptedIds, chunksInFlight, chunksOf, deliver, orderedLane, sendChunks } from './chunks.js';
import { type InternalEntry, prepareEntries } from './prepare.js';
import { forgetUnsent } from './records.js';

/**
 * Prepare every entry first (so one bad entry sends nothing), then send grouped by queue: chunks
 * without ordering keys up to `chunksInFlight(maxBatchSize)` at a time, chunks with keys one after the
 * other (after the keyed sends of earlier calls on this queue). When some chunks were accepted and
 * others not, throws a {@link PartialSendError} listing both; when none was, the send's own error.
 */
export async function sendEntries<T>(
  ctx: QueueContext<T>,
  entries: readonly InternalEntry<T>[],
  field: (index: number) => string = (index) => `entries[${index}].options`,
): Promise<string[]> {
  const lane = entries.some((entry) => entry.options?.orderingKey !== undefined)
    ? orderedLane(ctx)
    : undefined;
  try {
    const driver = await ctx.driver();
    const prepared = await prepareEntries(ctx, driver, entries, field);
    if (lane) await lane.turn;
    const outcomes = await sendChunks(
      chunksOf(driver, prepared),
      (chunk) => deliver(ctx, driver, chunk),
      true,
      chunksInFlight(driver.capabilities.maxBatchSize),
    );
    const failure = outcomes.find((o) => o.error !== undefined)?.error;
    if (failure === undefined) return prepared.map((p) => p.message.id);
    const accepted = acceptedIds(outcomes);
    await forgetUnsent(ctx, driver, outcomes, accepted);
    if (accepted.size === 0) throw failure.value;
    throw new PartialSendError(
      prepared.map((p) => p.message.id).filter((id) => accepted.has(id)),
      prepared.map((p) => p.message.id).filter((id) => !accepted.has(id)),
      { cause: failure.value },
    );
  } finally {
    lane?.done();
  }
}
