import type { QueueContext } from '../../context.js';
import type { Driver } from '../../driver.js';
import { ForgedMessageError } from '../../errors.js';
import type { Store } from '../../store/types.js';
import { capErrorText } from '../../error-text.js';
import { type ChunkOutcome, type FanOutKeys, type FanOutMeta, INDEX, keysOf, PARENT_ID } from './model.js';
import { reduceOnce } from './reduce.js';

/**
 * Record a finished chunk (idempotent: a redelivered chunk counts once). When every chunk is recorded,
 * send the reduce job: exactly once normally, at least once if a process dies between the send and
 * its bookkeeping (the reduce job then carries the same id, deduplicated where the driver can).
 *
 * The `done` counter is only a fast path: a process can die between recording a chunk and counting it.
 * Its redelivery cannot tell whether it was counted, so it bumps `recounts` and checks every chunk
 * record itself; a later chunk whose `done + recounts` reaches the total checks them too. Whichever
 * records the last chunk (or comes back after it) sees them all.
 *
 * Bookkeeping the core did not write (an index outside 0..total-1, a malformed parent id) is
 * ignored and reported as a {@link ForgedMessageError} 'error' event: it can neither fill a slot nor
 * fire the reduce early.
 */
export async function finishChunk<T>(
  ctx: QueueContext<T>,
  store: Store,
  driver: Driver,
  parentId: string,
  index: number | string | undefined,
  outcome: ChunkOutcome,
  ttlMs: number,
  messageId = '',
): Promise<void> {
  const forged = (why: string) =>
    ctx.emit('error', new ForgedMessageError(messageId, `Fan-out chunk ${messageId} ignored: ${why}`));
  if (typeof parentId !== 'string' || !PARENT_ID.test(parentId)) return forged('malformed parent id');
  const keys = keysOf(ctx.name, parentId);
  const meta = await store.get<FanOutMeta>(keys.meta);
  if (!meta) return; // expired or never recorded: nothing to reduce
  const at = typeof index === 'number' ? index : INDEX.test(index ?? '') ? Number(index) : Number.NaN;
  if (!Number.isInteger(at) || at < 0 || at >= meta.total)
    return forged(`index ${String(index)} outside 0..${meta.total - 1}`);
  const recorded = outcome.error === undefined ? outcome : { ...outcome, error: capErrorText(outcome.error) };
  const first = await store.set(keys.chunk(at), recorded, { ifAbsent: true, ttlMs });
  if (first) {
    const done = await store.increment(keys.done, 1, { ttlMs });
    if (done < meta.total) {
      const recounts = (await store.get<number>(keys.recounts)) ?? 0;
      if (done + recounts < meta.total || !(await allRecorded(store, keys, meta.total))) return;
    }
  } else {
    await store.increment(keys.recounts, 1, { ttlMs });
    if (!(await allRecorded(store, keys, meta.total))) return;
  }
  await reduceOnce(ctx, store, driver, parentId, keys, meta, ttlMs);
}

async function allRecorded(store: Store, keys: FanOutKeys, total: number): Promise<boolean> {
  for (let index = 0; index < total; index++)
    if ((await store.get(keys.chunk(index))) === undefined) return false;
  return true;
}
