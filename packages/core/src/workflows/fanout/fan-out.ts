import { randomUUID } from 'node:crypto';
import type { QueueContext } from '../../context.js';
import { prepareEntries } from '../../producer/prepare.js';
import type { InternalEntry } from '../../producer/prepare.js';
import { sendEntries } from '../../producer/send.js';
import {
  FANOUT_INDEX,
  FANOUT_PARENT,
  type FanOutOptions,
  type FanOutResult,
  keysOf,
  validateFanOut,
} from './model.js';
import { prepareReduce } from './reduce.js';

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
