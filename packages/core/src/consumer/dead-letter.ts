import type { DeadLetterInfo, Delivery } from '../driver.js';
import { capErrorText } from '../error-text.js';
import type { Job } from '../types.js';
import { finishChunk } from '../workflows/fanout/chunks.js';
import { FANOUT_INDEX, FANOUT_PARENT } from '../workflows/fanout/model.js';
import { type ConsumerScope, recordJob, reportTo } from './scope.js';

/** How a chunk job of a fan-out ended, for the fan-out's bookkeeping. */
export interface ChunkEnd {
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
  readonly reason?: string;
}

/**
 * Dead-lettering a delivery (when to is decided in semantics/outcome.ts): its error text and stack
 * capped, the fan-out bookkeeping of a chunk job, the driver's `deadLetter`, the job record, then the
 * `dead-lettered` event and counters.
 */
export async function deadLetter<T>(
  scope: ConsumerScope<T>,
  delivery: Delivery,
  name: string,
  uncapped: DeadLetterInfo,
  job?: Job<T>,
): Promise<void> {
  // Error text is the handler's (or the message's): bounded before it reaches the broker, store or events.
  const info = cappedDeadLetterInfo(uncapped);
  const error = info.error === undefined ? {} : { error: info.error };
  await chunkFinished(scope, delivery, { ok: false, reason: info.reason, ...error });
  await delivery.deadLetter(info);
  await recordJob(scope, delivery.id, {
    id: delivery.id,
    queue: scope.ctx.name,
    name,
    state: 'failed',
    reason: info.reason,
    ...error,
    ...(info.attempts === undefined ? {} : { attempts: info.attempts }),
    finishedAt: Date.now(),
  });
  reportTo(scope, {
    type: 'dead-lettered',
    id: delivery.id,
    name,
    reason: info.reason,
    ...error,
    ...(job ? { job } : {}),
  });
}

/** `info` with its error text and stack bounded (they are the handler's: they may carry whole payloads). */
export function cappedDeadLetterInfo(info: DeadLetterInfo): DeadLetterInfo {
  return {
    ...info,
    ...(info.error === undefined ? {} : { error: capErrorText(info.error) }),
    ...(info.stack === undefined ? {} : { stack: capErrorText(info.stack) }),
  };
}

/** Whether `delivery` is a chunk of a core-kept fan-out (its end is counted by {@link chunkFinished}). */
export function isChunk(delivery: Delivery): boolean {
  return delivery.headers[FANOUT_PARENT] !== undefined;
}

/** Fan-out bookkeeping for chunk jobs (before the chunk is settled, so a crash repeats it). */
export async function chunkFinished<T>(
  scope: ConsumerScope<T>,
  delivery: Delivery,
  end: ChunkEnd,
): Promise<void> {
  const { ctx, driver } = scope;
  const parent = delivery.headers[FANOUT_PARENT];
  if (parent === undefined || driver.workflows?.fanOut) return; // native fan-outs are the broker's
  await finishChunk(
    ctx,
    ctx.store,
    driver,
    parent,
    delivery.headers[FANOUT_INDEX],
    end,
    ctx.resultTtlMs,
    delivery.id,
  );
}
