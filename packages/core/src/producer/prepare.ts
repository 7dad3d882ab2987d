import { encodeWith } from '../codec.js';
import { MAX_DURATION_MS, validateHeaders, validateSendOptions } from '../config.js';
import type { QueueContext } from '../context.js';
import type { Capabilities, Driver, OutgoingMessage } from '../driver.js';
import { ConfigError, PayloadTooLargeError, UnsupportedFeatureError } from '../errors.js';
import { H } from '../headers.js';
import { validateWith } from '../schema.js';
import { DEFAULT_MAX_ATTEMPTS } from '../semantics/attempts.js';
import { hopLimit } from '../semantics/delay.js';
import { PriorityBands } from '../semantics/priority.js';
import { startSendSpan } from '../observability/telemetry.js';
import type { BatchEntry, SendOptions } from '../types.js';
import { newJobId } from './job-id.js';
import { forgetRecords, recordSent } from './records.js';

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
  options?: SendOptions,
  field = 'options',
  internalHeaders?: Readonly<Record<string, string>>,
): Promise<PreparedMessage> {
  checkEntry(driver, name, options, field);
  const value = ctx.schema ? await validateWith(ctx.schema, data) : data;
  return buildMessage(ctx, sendTarget(driver), name, value, options ?? NO_OPTIONS, internalHeaders);
}

/** The driver, with what every message reads of it taken once (through the guard, each read is a Proxy trap). */
interface SendTarget {
  readonly driver: Driver;
  readonly caps: Capabilities;
  readonly provider: string;
}

const sendTarget = (driver: Driver): SendTarget => ({
  driver,
  caps: driver.capabilities,
  provider: driver.provider,
});

const NO_OPTIONS: SendOptions = Object.freeze({});

/** The checks that need neither the payload nor the clock (options validated only when given). */
function checkEntry(driver: Driver, name: string, options: SendOptions | undefined, field: string): void {
  if (typeof name !== 'string' || name === '')
    throw new ConfigError('name', 'job name must be a non-empty string');
  if (options === undefined) return;
  validateSendOptions(options, field);
  if (driver.reservedHeaders?.length)
    validateHeaders(options.headers, `${field}.headers`, driver.reservedHeaders);
}

/** Encode and check one job whose entry passed {@link checkEntry} and whose payload passed the schema. */
function buildMessage<T>(
  ctx: QueueContext<T>,
  target: SendTarget,
  name: string,
  value: T,
  options: SendOptions,
  internalHeaders: Readonly<Record<string, string>> | undefined,
): PreparedMessage {
  const { driver, caps, provider } = target;
  const body = encodeWith(ctx.codec, value);
  const now = Date.now();

  const priority = options.priority ?? ctx.defaults.priority;
  let queue = ctx.name;
  if (priority !== undefined && priority > 0) {
    if (caps.priority === 'none' || (caps.priority === 'emulated' && ctx.strict)) {
      throw new UnsupportedFeatureError(
        'priority',
        provider,
        ctx.strict ? 'strict mode refuses priority emulation' : '',
      );
    }
    queue = new PriorityBands(driver, ctx.name, ctx.strict).queueOf(priority);
  }
  if (options.jobId !== undefined && !caps.dedup) {
    throw new UnsupportedFeatureError(
      'jobId deduplication',
      provider,
      'put your own id in `headers` instead',
    );
  }
  if (options.orderingKey !== undefined && !caps.ordering) {
    throw new UnsupportedFeatureError('ordering keys', provider);
  }

  const delayMs = options.runAt ? Math.max(0, options.runAt.getTime() - now) : (options.delay ?? 0);
  const maxAttempts = options.maxAttempts ?? ctx.defaults.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  // The user's headers, then the core's (which win over a user header of the same name), then the
  // core-only internal ones.
  const headers: Record<string, string> = options.headers ? { ...options.headers } : {};
  headers[H.contentType] = ctx.codec.contentType;
  headers[H.name] = name;
  headers[H.attempt] = '1';
  headers[H.maxAttempts] = String(maxAttempts);
  headers[H.enqueuedAt] = String(now);
  if (internalHeaders) Object.assign(headers, internalHeaders);
  const backoff = options.backoff ?? ctx.defaults.backoff;
  if (backoff) headers[H.backoff] = JSON.stringify(backoff);
  if (priority !== undefined) headers[H.priority] = String(priority);
  if (delayMs > 0) headers[H.notBefore] = String(now + delayMs);
  const span = startSendSpan(ctx.name, provider, headers);

  const message: { -readonly [K in keyof OutgoingMessage]: OutgoingMessage[K] } = {
    id: options.jobId ?? newJobId(),
    name,
    body,
    headers,
  };
  if (delayMs > 0) message.delayMs = Math.min(delayMs, hopLimit(caps, ctx.maxDelayHop), MAX_DURATION_MS);
  if (priority !== undefined && caps.priority === 'native') message.priority = priority;
  if (options.orderingKey !== undefined) message.orderingKey = options.orderingKey;
  if (options.jobId !== undefined) message.dedup = true;
  const size = messageSize(message);
  if (size > caps.maxPayloadBytes) {
    span?.end();
    throw new PayloadTooLargeError(size, caps.maxPayloadBytes, provider);
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
  const prepared: PreparedMessage[] = new Array(entries.length);
  const target = sendTarget(driver);
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index] as InternalEntry<T>;
    const { name, options } = entry;
    checkEntry(driver, name, options, options === undefined ? 'options' : field(index));
    // Without a schema, no await per entry.
    const value = ctx.schema ? await validateWith(ctx.schema, entry.data) : entry.data;
    prepared[index] = buildMessage(ctx, target, name, value, options ?? NO_OPTIONS, entry.internalHeaders);
  }
  const failures = await recordSent(ctx, driver, prepared);
  if (failures) {
    // Nothing is sent: the records written for the others would say `waiting` for jobs that never were.
    await forgetRecords(
      ctx,
      driver,
      prepared.filter((p) => !failures.has(p)),
    );
    throw failures.values().next().value;
  }
  return prepared;
}

/** Encoded size of a message as the limit counts it: body plus header keys and values. */
export function messageSize(message: OutgoingMessage): number {
  let size = message.body.byteLength + utf8Length(message.name);
  const { headers } = message;
  for (const key of Object.keys(headers)) size += utf8Length(key) + utf8Length(headers[key] as string);
  return size;
}

/** UTF-8 byte length; short ASCII text (every core header) is counted without a call into the runtime. */
function utf8Length(text: string): number {
  if (text.length > 64) return Buffer.byteLength(text);
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return Buffer.byteLength(text);
  return text.length;
}
