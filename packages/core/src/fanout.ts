import { randomUUID } from 'node:crypto';
import { type Codec, jsonCodec } from './codec.js';
import { isQueueName } from './config.js';
import type { QueueContext } from './context.js';
import type { Driver } from './driver.js';
import {
  ConfigError,
  EncodeError,
  errorMessage,
  ForgedMessageError,
  PayloadTooLargeError,
  QueuekitError,
  TimeoutError,
  UnsupportedFeatureError,
} from './errors.js';
import {
  type InternalEntry,
  type PreparedMessage,
  prepareEntries,
  prepareMessage,
  sendEntries,
} from './producer.js';
import type { Store } from './store/types.js';
import { abortableDelay } from './timers.js';
import { capErrorText } from './tracking.js';

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
/**
 * A fan-out id: 1-100 letters, digits, `_`, `.` or `-`. No `:`, so one fan-out's store keys can never be
 * another's, and the reduce job id `<parentId>-reduce` stays within 128 characters.
 */
const PARENT_ID = /^[\w.-]{1,100}$/;
const INDEX = /^(0|[1-9]\d{0,8})$/;

/** Store keys of one fan-out, scoped by the queue of its chunks (a chunk of queue A cannot touch B's). */
const keysOf = (queue: string, parentId: string) => {
  const base = `qk:fan:${queue}:${parentId}:`;
  return {
    meta: `${base}meta`,
    chunk: (index: number) => `${base}chunk:${index}`,
    done: `${base}done`,
    recounts: `${base}recounts`,
    reducing: `${base}reducing`,
    reduced: `${base}reduced`,
  };
};
type FanOutKeys = ReturnType<typeof keysOf>;

/** Check `fanOut` arguments before anything is written or sent; throws ConfigError naming the field. */
export function validateFanOut(items: unknown, options: FanOutOptions | undefined): void {
  if (!Array.isArray(items) || items.length === 0)
    throw new ConfigError('items', 'expected a non-empty array');
  if (typeof options !== 'object' || options === null) throw new ConfigError('options', 'expected an object');
  if (!Number.isInteger(options.chunkSize) || options.chunkSize < 1)
    throw new ConfigError('chunkSize', 'expected an integer ≥ 1');
  if (!isQueueName(options.reduce)) {
    throw new ConfigError(
      'reduce',
      'expected a queue name: 1-80 letters, digits, `.`, `_` or `-`, starting with a letter or digit',
    );
  }
  if (
    options.reduceName !== undefined &&
    (typeof options.reduceName !== 'string' || options.reduceName === '')
  )
    throw new ConfigError('reduceName', 'expected a non-empty string');
  if (
    options.parentId !== undefined &&
    (typeof options.parentId !== 'string' || !PARENT_ID.test(options.parentId))
  )
    throw new ConfigError('parentId', 'expected 1-100 letters, digits, `_`, `.` or `-`');
}

/**
 * `queue.fanOut`: validate, then either hand the fan-out to the broker (`workflows.fanOut`) or record
 * it in the store and send the chunks. Resolves once every chunk is sent.
 */
export async function runFanOut<T, I>(
  ctx: QueueContext<T>,
  name: string,
  items: readonly I[],
  options: FanOutOptions,
): Promise<FanOutResult> {
  validateFanOut(items, options);
  const parentId = options.parentId ?? randomUUID();
  const reduceName = options.reduceName ?? 'reduce';
  const chunkEntries: InternalEntry<T>[] = [];
  for (let i = 0; i < items.length; i += options.chunkSize) {
    chunkEntries.push({
      name,
      data: items.slice(i, i + options.chunkSize) as unknown as T,
      internalHeaders: { [FANOUT_PARENT]: parentId, [FANOUT_INDEX]: String(chunkEntries.length) },
    });
  }
  const driver = await ctx.driver();
  const nativeFanOut = driver.workflows?.fanOut;
  if (nativeFanOut) {
    const reduce = await prepareReduce(ctx, driver, options.reduce, reduceName, {
      parentId,
      results: [],
      failed: [],
    });
    const prepared = await prepareEntries(ctx, driver, chunkEntries);
    await nativeFanOut.call(
      driver.workflows,
      ctx.name,
      prepared.map((p) => p.message),
      { queue: reduce.queue, message: reduce.message },
    );
    for (const p of [...prepared, reduce]) p.span?.end();
    return { parentId, chunkIds: prepared.map((p) => p.message.id) };
  }
  await ctx.store.set(
    keysOf(ctx.name, parentId).meta,
    { total: chunkEntries.length, reduce: options.reduce, reduceName },
    { ttlMs: ctx.resultTtlMs },
  );
  const chunkIds = await sendEntries(ctx, chunkEntries);
  return { parentId, chunkIds };
}

/** Errors that no retry can fix: the reduce is then given up (reported), never retried forever. */
const permanent = (error: unknown) =>
  error instanceof ConfigError ||
  error instanceof PayloadTooLargeError ||
  error instanceof UnsupportedFeatureError ||
  error instanceof EncodeError;

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

/** Send the reduce under a lease; wait for another holder to finish (or its lease to lapse if it died). */
async function reduceOnce<T>(
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
