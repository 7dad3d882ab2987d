import { type Codec, jsonCodec } from './codec.js';
import type { QueueContext } from './context.js';
import type { Driver } from './driver.js';
import { type PreparedMessage, prepareMessage } from './producer.js';
import type { Store } from './store/types.js';
import { abortableDelay } from './timers.js';

/** Options of `queue.fanOut`. */
export interface FanOutOptions {
  /** Items per chunk job. */
  readonly chunkSize: number;
  /** Queue that receives the single reduce job once every chunk has finished. */
  readonly reduce: string;
  /** Job name of the reduce job. Default `reduce`. */
  readonly reduceName?: string;
  /** Id of the fan-out (and prefix of its chunk ids). Default: a UUID. */
  readonly parentId?: string;
}

/** What `fanOut` returns. */
export interface FanOutResult {
  readonly parentId: string;
  readonly chunkIds: readonly string[];
}

/** Data of the reduce job: chunk results by chunk index, and the chunks that were dead-lettered. */
export interface ReduceData<R = unknown> {
  readonly parentId: string;
  /** `results[i]` is chunk i's result (null for a failed chunk). */
  readonly results: readonly (R | null)[];
  readonly failed: readonly { readonly index: number; readonly error?: string; readonly reason?: string }[];
}

interface FanOutMeta {
  total: number;
  reduce: string;
  reduceName: string;
}

interface ChunkOutcome {
  ok: boolean;
  result?: unknown;
  error?: string;
  reason?: string;
}

/** Header names carried by chunk jobs. */
export const FANOUT_PARENT = 'qk-fanout-parent';
export const FANOUT_INDEX = 'qk-fanout-index';

const REDUCE_LEASE_MS = 10_000;
const keyOf = (parentId: string, suffix: string) => `qk:fan:${parentId}:${suffix}`;

/** Record the fan-out before its chunks are sent. */
export async function startFanOut(
  store: Store,
  parentId: string,
  meta: FanOutMeta,
  ttlMs: number,
): Promise<void> {
  await store.set(keyOf(parentId, 'meta'), meta, { ttlMs });
}

/**
 * Record a finished chunk (idempotent: a redelivered chunk counts once). When it is the last one,
 * send the reduce job: exactly once normally, at least once if a process dies between the send and
 * its bookkeeping (the reduce job then carries the same id, deduplicated where the driver can).
 */
export async function finishChunk<T>(
  ctx: QueueContext<T>,
  store: Store,
  driver: Driver,
  parentId: string,
  index: number,
  outcome: ChunkOutcome,
  ttlMs: number,
): Promise<void> {
  const meta = await store.get<FanOutMeta>(keyOf(parentId, 'meta'));
  if (!meta) return; // expired or never recorded: nothing to reduce
  const first = await store.set(keyOf(parentId, `chunk:${index}`), outcome, { ifAbsent: true, ttlMs });
  const done = first
    ? await store.increment(keyOf(parentId, 'done'), 1, { ttlMs })
    : ((await store.get<number>(keyOf(parentId, 'done'))) ?? 0);
  if (done < meta.total) return;
  const deadline = Date.now() + REDUCE_LEASE_MS * 3;
  while (!(await store.get(keyOf(parentId, 'reduced')))) {
    if (await store.set(keyOf(parentId, 'reducing'), true, { ifAbsent: true, ttlMs: REDUCE_LEASE_MS })) {
      await sendReduce(ctx, store, driver, parentId, meta);
      await store.set(keyOf(parentId, 'reduced'), true, { ttlMs });
      return;
    }
    // Another process holds the lease: wait for it to finish, or for its lease to lapse if it died.
    if (Date.now() > deadline)
      throw new Error(`fan-out ${parentId}: reduce lease still held after ${REDUCE_LEASE_MS * 3} ms`);
    await abortableDelay(200);
  }
}

async function sendReduce<T>(
  ctx: QueueContext<T>,
  store: Store,
  driver: Driver,
  parentId: string,
  meta: FanOutMeta,
): Promise<void> {
  const results: unknown[] = [];
  const failed: { index: number; error?: string; reason?: string }[] = [];
  for (let index = 0; index < meta.total; index++) {
    const outcome = await store.get<ChunkOutcome>(keyOf(parentId, `chunk:${index}`));
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
  await driver.send(queue, [message]);
  span?.end();
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
