import { randomUUID } from 'node:crypto';
import { encodeWith } from './codec.js';
import { MAX_DURATION_MS, validateHeaders, validateSendOptions } from './config.js';
import { bandQueue, emulatesPriority, hopLimit, messageSize, type QueueContext } from './context.js';
import type { Driver, OutgoingMessage } from './driver.js';
import { ConfigError, PartialSendError, PayloadTooLargeError, UnsupportedFeatureError } from './errors.js';
import { H } from './headers.js';
import { validateWith } from './schema.js';
import { startSendSpan } from './telemetry.js';
import type { BatchEntry, SendOptions } from './types.js';

/** A message ready for the driver, the physical queue it goes to, and its send span (OpenTelemetry). */
export interface PreparedMessage {
  readonly queue: string;
  readonly message: OutgoingMessage;
  readonly span?: { end(): void; recordException(error: Error): void } | undefined;
}

const DEFAULT_MAX_ATTEMPTS = 3;

/** Validate, encode and check one job against the driver's capabilities. Sends nothing. */
export async function prepareMessage<T>(
  ctx: QueueContext<T>,
  driver: Driver,
  name: string,
  data: T,
  options: SendOptions = {},
  field = 'options',
  internalHeaders: Readonly<Record<string, string>> = {},
): Promise<PreparedMessage> {
  if (typeof name !== 'string' || name === '')
    throw new ConfigError('name', 'job name must be a non-empty string');
  validateSendOptions(options, field);
  if (driver.reservedHeaders?.length)
    validateHeaders(options.headers, `${field}.headers`, driver.reservedHeaders);
  const caps = driver.capabilities;
  const value = ctx.schema ? await validateWith(ctx.schema, data) : data;
  const body = encodeWith(ctx.codec, value);
  const now = Date.now();

  const priority = options.priority ?? ctx.defaults.priority;
  let queue = ctx.name;
  if (priority !== undefined && priority > 0) {
    if (caps.priority === 'none' || (caps.priority === 'emulated' && ctx.strict)) {
      throw new UnsupportedFeatureError(
        'priority',
        driver.provider,
        ctx.strict ? 'strict mode refuses priority emulation' : '',
      );
    }
    if (emulatesPriority(caps, ctx.strict)) queue = bandQueue(driver, ctx.name, priority);
  }
  if (options.jobId !== undefined && !caps.dedup) {
    throw new UnsupportedFeatureError(
      'jobId deduplication',
      driver.provider,
      'put your own id in `headers` instead',
    );
  }
  if (options.orderingKey !== undefined && !caps.ordering) {
    throw new UnsupportedFeatureError('ordering keys', driver.provider);
  }

  const delayMs = options.runAt ? Math.max(0, options.runAt.getTime() - now) : (options.delay ?? 0);
  const headers: Record<string, string> = {
    ...options.headers,
    [H.contentType]: ctx.codec.contentType,
    [H.name]: name,
    [H.attempt]: '1',
    [H.maxAttempts]: String(options.maxAttempts ?? ctx.defaults.maxAttempts ?? DEFAULT_MAX_ATTEMPTS),
    [H.enqueuedAt]: String(now),
    ...internalHeaders,
  };
  const backoff = options.backoff ?? ctx.defaults.backoff;
  if (backoff) headers[H.backoff] = JSON.stringify(backoff);
  if (priority !== undefined) headers[H.priority] = String(priority);
  if (delayMs > 0) headers[H.notBefore] = String(now + delayMs);
  const span = startSendSpan(ctx.name, driver.provider, headers);

  const message: OutgoingMessage = {
    id: options.jobId ?? randomUUID(),
    name,
    body,
    headers,
    ...(delayMs > 0 ? { delayMs: Math.min(delayMs, hopLimit(caps, ctx.maxDelayHop), MAX_DURATION_MS) } : {}),
    ...(priority !== undefined && caps.priority === 'native' ? { priority } : {}),
    ...(options.orderingKey === undefined ? {} : { orderingKey: options.orderingKey }),
    ...(options.jobId === undefined ? {} : { dedup: true }),
  };
  const size = messageSize(message);
  if (size > caps.maxPayloadBytes) {
    span?.end();
    throw new PayloadTooLargeError(size, caps.maxPayloadBytes, driver.provider);
  }
  return { queue, message, span };
}

/** A batch entry plus core-only headers (fan-out bookkeeping), which skip the reserved-prefix check. */
export interface InternalEntry<T> extends BatchEntry<T> {
  readonly internalHeaders?: Readonly<Record<string, string>>;
}

/** Driver sends in flight at once for one batch (a 100k batch on a 10-message driver is 10,000 sends). */
export const MAX_CHUNKS_IN_FLIGHT = 8;

/**
 * Prepare every entry first (so one bad entry sends nothing), then send grouped by queue: chunks
 * without ordering keys up to {@link MAX_CHUNKS_IN_FLIGHT} at a time, chunks with keys one after the
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

/** One turn on a queue's lane of keyed sends: taken in call order, so keyed batches reach the driver in that order. */
interface LaneTicket {
  readonly turn: Promise<void>;
  done(): void;
}

const laneTails = new WeakMap<object, Promise<void>>();

function orderedLane(ctx: QueueContext<unknown>): LaneTicket {
  const previous = laneTails.get(ctx) ?? Promise.resolve();
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  laneTails.set(ctx, finished);
  return { turn: previous, done };
}

interface ChunkOutcome<P> {
  readonly chunk: readonly P[];
  /** Set when the chunk was not (known to be) accepted: its send failed, or it was not attempted. */
  readonly error?: { readonly value: unknown };
}

/**
 * Send `chunks`: those carrying an ordering key sequentially in order, the others at most
 * MAX_CHUNKS_IN_FLIGHT at a time. After a failure no keyed chunk is started (a later job of a key must
 * not overtake one that failed); with `stopOnError`, no chunk at all.
 */
async function sendChunks<P extends PreparedMessage>(
  chunks: readonly P[][],
  send: (chunk: readonly P[]) => Promise<void>,
  stopOnError: boolean,
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
  await Promise.all([
    inOrder(),
    ...Array.from({ length: Math.min(MAX_CHUNKS_IN_FLIGHT, free.length) }, worker),
  ]);
  return outcomes;
}

/** Validate and encode every entry (one invalid entry throws, nothing is sent) and record them as sent. */
export async function prepareEntries<T>(
  ctx: QueueContext<T>,
  driver: Driver,
  entries: readonly InternalEntry<T>[],
  field: (index: number) => string = (index) => `entries[${index}].options`,
): Promise<PreparedMessage[]> {
  const prepared: PreparedMessage[] = [];
  for (const [index, entry] of entries.entries()) {
    prepared.push(
      await prepareMessage(
        ctx,
        driver,
        entry.name,
        entry.data,
        entry.options,
        field(index),
        entry.internalHeaders,
      ),
    );
  }
  await recordSent(ctx, driver, prepared);
  return prepared;
}

/** Job records for messages about to be sent (before the send, so no consumer can overtake them). */
async function recordSent<T>(
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
/**
 * Ids the broker accepted: every id of a chunk that was sent, and of a chunk whose send failed with a
 * PartialSendError (a driver that split it further), the ids that error lists as sent.
 */
function acceptedIds(outcomes: readonly ChunkOutcome<PreparedMessage>[]): Set<string> {
  const accepted = new Set<string>();
  for (const { chunk, error } of outcomes) {
    if (error === undefined) {
      for (const { message } of chunk) accepted.add(message.id);
    } else if (error.value instanceof PartialSendError) {
      const sent = new Set(error.value.sent);
      for (const { message } of chunk) if (sent.has(message.id)) accepted.add(message.id);
    }
  }
  return accepted;
}

async function forgetUnsent<T>(
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

/** Group by physical queue, then cut into the driver's batch size. */
function chunksOf<P extends PreparedMessage>(driver: Driver, prepared: readonly P[]): P[][] {
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
async function deliver<T>(
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
  ctx.metrics.sent += chunk.length;
  for (const _ of chunk) ctx.otel.count('sent');
}

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
    const prepared: (PreparedMessage & { item: PendingSend<T> })[] = [];
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
    try {
      await recordSent(this.ctx, driver, prepared);
    } catch (error) {
      for (const { item } of prepared) item.reject(error);
      return;
    }
    if (lane) await lane.turn;
    const outcomes = await sendChunks(
      chunksOf(driver, prepared),
      (chunk) => deliver(this.ctx, driver, chunk),
      false,
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
