import { type Codec, jsonCodec } from '../../codec.js';
import type { QueueContext } from '../../context.js';
import type { Driver } from '../../driver.js';
import { errorMessage, QueuekitError, TimeoutError } from '../../errors.js';
import { type PreparedMessage, prepareMessage } from '../../producer/prepare.js';
import type { Store } from '../../store/types.js';
import { abortableDelay } from '../../timers.js';
import type { ChunkOutcome, FanOutKeys, FanOutMeta, ReduceData } from './model.js';

const REDUCE_LEASE_MS = 10_000;

/** Errors that no retry can fix: the reduce is then given up (reported), never retried forever. */
const permanent = (error: unknown) =>
  QueuekitError.is(error, ['ERR_CONFIG', 'ERR_PAYLOAD_TOO_LARGE', 'ERR_UNSUPPORTED_FEATURE', 'ERR_ENCODE']);

/** Send the reduce under a lease; wait for another holder to finish (or its lease to lapse if it died). */
export async function reduceOnce<T>(
  ctx: QueueContext<T>,
  store: Store,
  driver: Driver,
  parentId: string,
  keys: FanOutKeys,
  meta: FanOutMeta,
  ttlMs: number,
): Promise<void> {
  const deadline = Date.now() + REDUCE_LEASE_MS * 3;
  while (!(await store.get(keys.reduced))) {
    if (await store.set(keys.reducing, true, { ifAbsent: true, ttlMs: REDUCE_LEASE_MS })) {
      try {
        await sendReduce(ctx, store, driver, parentId, keys, meta);
      } catch (error) {
        if (!permanent(error)) {
          await store.delete(keys.reducing).catch(() => undefined);
          throw error;
        }
        // Retrying cannot help (a reduce over the payload limit...): report it and let the chunk settle.
        ctx.emit(
          'error',
          new QueuekitError(
            `fan-out ${parentId}: its reduce job cannot be sent: ${errorMessage(error)}`,
            'ERR_QUEUEKIT',
            {
              cause: error,
            },
          ),
        );
        await markReduced(store, keys, { failed: errorMessage(error) }, ttlMs);
        return;
      }
      await markReduced(store, keys, true, ttlMs);
      return;
    }
    if (Date.now() > deadline)
      throw new TimeoutError(`fan-out ${parentId}: reduce lease still held after ${REDUCE_LEASE_MS * 3} ms`);
    await abortableDelay(200);
  }
}

/**
 * Mark the reduce as done, retrying a failing store a few times: once the reduce is sent, a lost mark
 * means a second reduce after the lease lapses (dropped only where the driver deduplicates).
 */
async function markReduced(store: Store, keys: FanOutKeys, value: unknown, ttlMs: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await store.set(keys.reduced, value, { ttlMs });
      return;
    } catch (error) {
      if (attempt >= 4) throw error;
      await abortableDelay(50 * 2 ** attempt);
    }
  }
}

async function sendReduce<T>(
  ctx: QueueContext<T>,
  store: Store,
  driver: Driver,
  parentId: string,
  keys: FanOutKeys,
  meta: FanOutMeta,
): Promise<void> {
  const results: unknown[] = [];
  const failed: { index: number; error?: string; reason?: string }[] = [];
  for (let index = 0; index < meta.total; index++) {
    const outcome = await store.get<ChunkOutcome>(keys.chunk(index));
    results.push(outcome?.ok ? (outcome.result ?? null) : null);
    if (!outcome?.ok) {
      failed.push({
        index,
        ...(outcome?.error ? { error: outcome.error } : {}),
        ...(outcome?.reason ? { reason: outcome.reason } : {}),
      });
    }
  }
  const { queue, message, span } = await prepareReduce(ctx, driver, meta.reduce, meta.reduceName, {
    parentId,
    results,
    failed,
  });
  try {
    await driver.send(queue, [message]);
  } finally {
    span?.end();
  }
}

/**
 * The reduce job of a fan-out, JSON-encoded for the `reduce` queue, with the id `<parentId>-reduce`
 * where the driver deduplicates (so a second reduce of the same fan-out is dropped).
 */
export function prepareReduce<T>(
  ctx: QueueContext<T>,
  driver: Driver,
  reduceQueue: string,
  reduceName: string,
  data: ReduceData,
): Promise<PreparedMessage> {
  const reduceCtx: QueueContext<ReduceData> = {
    ...ctx,
    name: reduceQueue,
    schema: undefined,
    codec: jsonCodec as Codec<ReduceData>,
    emit: () => undefined,
  };
  return prepareMessage(
    reduceCtx,
    driver,
    reduceName,
    data,
    driver.capabilities.dedup ? { jobId: `${data.parentId}-reduce` } : {},
  );
}
