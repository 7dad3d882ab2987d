import { randomUUID } from 'node:crypto';
import { encodeWith } from './codec.js';
import { MAX_DURATION_MS, validateHeaders, validateSendOptions } from './config.js';
import { bandQueue, emulatesPriority, hopLimit, messageSize, type QueueContext } from './context.js';
import type { Driver, OutgoingMessage } from './driver.js';
import { ConfigError, PayloadTooLargeError, UnsupportedFeatureError } from './errors.js';
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

/** Prepare every entry first (so one bad entry sends nothing), then send grouped by queue. */
/** A batch entry plus core-only headers (fan-out bookkeeping), which skip the reserved-prefix check. */
export interface InternalEntry<T> extends BatchEntry<T> {
  readonly internalHeaders?: Readonly<Record<string, string>>;
}

export async function sendEntries<T>(
  ctx: QueueContext<T>,
  entries: readonly InternalEntry<T>[],
  field: (index: number) => string = (index) => `entries[${index}].options`,
): Promise<string[]> {
  const driver = await ctx.driver();
  const prepared = await prepareEntries(ctx, driver, entries, field);
  await Promise.all(chunksOf(driver, prepared).map((chunk) => deliver(ctx, driver, chunk)));
  return prepared.map((p) => p.message.id);
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
    await Promise.all(
      chunksOf(driver, prepared).map(async (chunk) => {
        try {
          await deliver(this.ctx, driver, chunk);
          for (const { item, message } of chunk) item.resolve(message.id);
        } catch (error) {
          for (const { item } of chunk) item.reject(error);
        }
      }),
    );
  }
}
