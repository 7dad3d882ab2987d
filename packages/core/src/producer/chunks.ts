import type { QueueContext } from '../context.js';
import type { Driver } from '../driver.js';
import { QueuekitError } from '../errors.js';
import { report } from '../observability/report.js';
import type { PreparedMessage } from './prepare.js';

/** Driver sends in flight at once for one batch, at least (a 100k batch on a 10-message driver is 10,000 sends). */
export const MAX_CHUNKS_IN_FLIGHT = 8;
/** Messages in flight at once for one batch: drivers with small batches (SQS: 10) get more sends in flight. */
export const MAX_MESSAGES_IN_FLIGHT = 1000;

/** Sends in flight at once, at most, however small the driver's batches. */
export const MAX_SENDS_IN_FLIGHT = 100;

/** Sends in flight at once for a driver taking `maxBatchSize` messages per send. */
export function chunksInFlight(maxBatchSize: number): number {
  const wanted = Math.ceil(MAX_MESSAGES_IN_FLIGHT / Math.max(1, maxBatchSize));
  return Math.min(MAX_SENDS_IN_FLIGHT, Math.max(MAX_CHUNKS_IN_FLIGHT, wanted));
}

/** One turn on a queue's lane of keyed sends: taken in call order, so keyed batches reach the driver in that order. */
export interface LaneTicket {
  readonly turn: Promise<void>;
  done(): void;
}

const laneTails = new WeakMap<object, Promise<void>>();

export function orderedLane(ctx: QueueContext<unknown>): LaneTicket {
  const previous = laneTails.get(ctx) ?? Promise.resolve();
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  laneTails.set(ctx, finished);
  return { turn: previous, done };
}

export interface ChunkOutcome<P> {
  readonly chunk: readonly P[];
  /** Set when the chunk was not (known to be) accepted: its send failed, or it was not attempted. */
  readonly error?: { readonly value: unknown };
}

/**
 * Send `chunks`: those carrying an ordering key sequentially in order, the others at most `inFlight`
 * at a time ({@link chunksInFlight}). After a failure no keyed chunk is started (a later job of a key must
 * not overtake one that failed); with `stopOnError`, no chunk at all.
 */
export async function sendChunks<P extends PreparedMessage>(
  chunks: readonly P[][],
  send: (chunk: readonly P[]) => Promise<void>,
  stopOnError: boolean,
  inFlight = MAX_CHUNKS_IN_FLIGHT,
): Promise<ChunkOutcome<P>[]> {
  const outcomes: ChunkOutcome<P>[] = new Array(chunks.length);
  let firstError: { value: unknown } | undefined;
  const run = async (index: number) => {
    const chunk = chunks[index] as P[];
    if (firstError && stopOnError) {
      outcomes[index] = { chunk, error: firstError };
      return;
    }
    try {
      await send(chunk);
      outcomes[index] = { chunk };
    } catch (value) {
      firstError ??= { value };
      outcomes[index] = { chunk, error: { value } };
    }
  };
  const keyed: number[] = [];
  const free: number[] = [];
  for (const [index, chunk] of chunks.entries())
    (chunk.some((p) => p.message.orderingKey !== undefined) ? keyed : free).push(index);
  const inOrder = async () => {
    for (const index of keyed) {
      if (firstError) outcomes[index] = { chunk: chunks[index] as P[], error: firstError };
      else await run(index);
    }
  };
  let next = 0;
  const worker = async () => {
    while (next < free.length) await run(free[next++] as number);
  };
  await Promise.all([inOrder(), ...Array.from({ length: Math.min(inFlight, free.length) }, worker)]);
  return outcomes;
}

/**
 * Ids the broker accepted: every id of a chunk that was sent, and of a chunk whose send failed with a
 * PartialSendError (a driver that split it further), the ids that error lists as sent.
 */
export function acceptedIds(outcomes: readonly ChunkOutcome<PreparedMessage>[]): Set<string> {
  const accepted = new Set<string>();
  for (const { chunk, error } of outcomes) {
    if (error === undefined) {
      for (const { message } of chunk) accepted.add(message.id);
    } else if (QueuekitError.is(error.value, 'ERR_PARTIAL_SEND')) {
      const sent = new Set(error.value.sent);
      for (const { message } of chunk) if (sent.has(message.id)) accepted.add(message.id);
    }
  }
  return accepted;
}

/** Group by physical queue, then cut into the driver's batch size. */
export function chunksOf<P extends PreparedMessage>(driver: Driver, prepared: readonly P[]): P[][] {
  const byQueue = new Map<string, P[]>();
  for (const item of prepared) {
    const list = byQueue.get(item.queue) ?? [];
    list.push(item);
    byQueue.set(item.queue, list);
  }
  const size = Math.max(1, driver.capabilities.maxBatchSize);
  const chunks: P[][] = [];
  for (const list of byQueue.values())
    for (let i = 0; i < list.length; i += size) chunks.push(list.slice(i, i + size));
  return chunks;
}

/** One driver.send for messages of one physical queue, with spans and counters. */
export async function deliver<T>(
  ctx: QueueContext<T>,
  driver: Driver,
  chunk: readonly PreparedMessage[],
): Promise<void> {
  const queue = chunk[0]?.queue;
  if (queue === undefined) return;
  try {
    await driver.send(
      queue,
      chunk.map((p) => p.message),
    );
  } catch (error) {
    for (const { span } of chunk) span?.recordException(error as Error);
    throw error;
  } finally {
    for (const { span } of chunk) span?.end();
  }
  report(ctx, { type: 'sent', count: chunk.length });
}
