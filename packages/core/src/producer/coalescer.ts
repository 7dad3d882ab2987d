import type { QueueContext } from '../context.js';
import type { Driver } from '../driver.js';
import {
  acceptedIds,
  chunksInFlight,
  chunksOf,
  deliver,
  type LaneTicket,
  orderedLane,
  sendChunks,
} from './chunks.js';
import { type InternalEntry, type PreparedMessage, prepareMessage } from './prepare.js';
import { forgetUnsent, recordSent } from './records.js';

interface PendingSend<T> {
  readonly entry: InternalEntry<T>;
  resolve(id: string): void;
  reject(error: unknown): void;
}

/**
 * Coalesces the single sends made in one turn of the event loop into batched driver calls (like a
 * publisher's batching), so `await Promise.all(items.map((i) => queue.send(...)))` costs a few broker
 * round trips, not one per job. Each caller still gets its own id or its own error: an invalid entry
 * rejects alone; a failed batch rejects the callers whose messages were in it (they may have been
 * partly accepted by the broker: at-least-once, never lost silently).
 */
export class SendCoalescer<T> {
  private pending: PendingSend<T>[] = [];
  private scheduled = false;

  constructor(private readonly ctx: QueueContext<T>) {}

  send(entry: InternalEntry<T>): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.pending.push({ entry, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.flush().catch(() => undefined);
        });
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.scheduled = false;
    const lane = batch.some((item) => item.entry.options?.orderingKey !== undefined)
      ? orderedLane(this.ctx)
      : undefined;
    try {
      await this.sendAll(batch, lane);
    } finally {
      lane?.done();
    }
  }

  private async sendAll(batch: readonly PendingSend<T>[], lane: LaneTicket | undefined): Promise<void> {
    let driver: Driver;
    try {
      driver = await this.ctx.driver();
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    let prepared: (PreparedMessage & { item: PendingSend<T> })[] = [];
    for (const item of batch) {
      const { entry } = item;
      try {
        const message = await prepareMessage(
          this.ctx,
          driver,
          entry.name,
          entry.data,
          entry.options,
          'options',
          entry.internalHeaders,
        );
        prepared.push({ ...message, item });
      } catch (error) {
        item.reject(error);
      }
    }
    // A send whose record could not be written fails alone; the others go out.
    const failures = await recordSent(this.ctx, driver, prepared);
    if (failures) {
      for (const [{ item }, error] of failures) item.reject(error);
      prepared = prepared.filter((p) => !failures.has(p));
      if (prepared.length === 0) return;
    }
    if (lane) await lane.turn;
    const outcomes = await sendChunks(
      chunksOf(driver, prepared),
      (chunk) => deliver(this.ctx, driver, chunk),
      false,
      chunksInFlight(driver.capabilities.maxBatchSize),
    );
    const accepted = acceptedIds(outcomes);
    await forgetUnsent(this.ctx, driver, outcomes, accepted);
    for (const { chunk, error } of outcomes) {
      for (const { item, message } of chunk) {
        if (error && !accepted.has(message.id)) item.reject(error.value);
        else item.resolve(message.id);
      }
    }
  }
}
