import { randomUUID } from 'node:crypto';
import { encodeWith } from '../codec.js';
import { MAX_DURATION_MS, validateHeaders, validateSendOptions } from '../config.js';
import type { QueueContext } from '../context.js';
import type { Driver, OutgoingMessage } from '../driver.js';
import { ConfigError, PayloadTooLargeError, UnsupportedFeatureError } from '../errors.js';
import { H } from '../headers.js';
import { validateWith } from '../schema.js';
import { DEFAULT_MAX_ATTEMPTS } from '../semantics/attempts.js';
import { hopLimit } from '../semantics/delay.js';
import { PriorityBands } from '../semantics/priority.js';
import { startSendSpan } from '../observability/telemetry.js';
import type { BatchEntry, SendOptions } from '../types.js';
import { recordSent } from './records.js';

/** A message ready for the driver, the physical queue it goes to, and its send span (OpenTelemetry). */
export interface PreparedMessage {
  readonly queue: string;
  readonly message: OutgoingMessage;
  readonly span?: { end(): void; recordException(error: Error): void } | undefined;
}

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
    queue = new PriorityBands(driver, ctx.name, ctx.strict).queueOf(priority);
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

/** Encoded size of a message as the limit counts it: body plus header keys and values. */
export function messageSize(message: OutgoingMessage): number {
  let size = message.body.byteLength + Buffer.byteLength(message.name);
  for (const [key, value] of Object.entries(message.headers))
    size += Buffer.byteLength(key) + Buffer.byteLength(value);
  return size;
}
