import { type BackoffOptions, DEFAULT_BACKOFF } from './semantics/backoff.js';
import { nullPrototypeRecord } from './driver-kit/string-record.js';

/** Names of the headers the core stores on every message. Drivers keep them verbatim. */
export const H = {
  attempt: 'qk-attempt',
  maxAttempts: 'qk-max-attempts',
  name: 'qk-name',
  enqueuedAt: 'qk-enqueued-at',
  notBefore: 'qk-not-before',
  backoff: 'qk-backoff',
  priority: 'qk-priority',
  contentType: 'content-type',
  deadLetterReason: 'qk-dead-letter-reason',
  deadLetterError: 'qk-dead-letter-error',
} as const;

/**
 * Bounds on what a message's core headers may say. Any producer can write `qk-*` headers, so the
 * consumer reads them as untrusted input: a value outside these bounds is never acted upon.
 */
export const HEADER_BOUNDS = {
  /** Highest `qk-max-attempts` honoured; a value outside 1..1000 falls back to the queue's default. */
  maxAttempts: 1000,
  /** Longest delay the core honours: 10 years. A `qk-not-before` further ahead dead-letters as `invalid-headers`. */
  maxDelayMs: 10 * 365 * 24 * 3_600_000,
  /** Shortest wait before a retry, whatever the backoff says, so no message can make a worker spin. */
  minRetryDelayMs: 10,
} as const;

const CORE_PREFIX = 'qk-';
const DECIMAL_INTEGER = /^-?\d{1,16}$/;

/** `qk-*` or `content-type`, in any letter case, read without making a lower-case copy of every key. */
export function isCoreHeader(key: string): boolean {
  const first = key.charCodeAt(0) | 0x20;
  if (first === 0x71 /* q */)
    return (
      key.length >= CORE_PREFIX.length && (key.charCodeAt(1) | 0x20) === 0x6b && key.charCodeAt(2) === 0x2d
    );
  return first === 0x63 /* c */ && key.length === H.contentType.length && key.toLowerCase() === H.contentType;
}

/** User-visible headers: everything but the core's own, in an object without prototype (`__proto__` is a plain key). */
export function userHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out = nullPrototypeRecord<string>();
  // Own enumerable keys, as Object.keys gives them, without allocating its array (this runs once per job).
  for (const key in headers) {
    if (Object.hasOwn(headers, key) && !isCoreHeader(key)) out[key] = headers[key] as string;
  }
  return out;
}

/** A decimal integer header (no exponent, fraction or blank), or `fallback`. */
export function intHeader(headers: Readonly<Record<string, string>>, key: string, fallback: number): number {
  const raw = headers[key];
  if (raw === undefined || !DECIMAL_INTEGER.test(raw.trim())) return fallback;
  const value = Number(raw);
  return Number.isSafeInteger(value) ? value : fallback;
}

/** `qk-attempt`: an integer ≥ 1, else 1. */
export function attemptHeader(headers: Readonly<Record<string, string>>): number {
  const value = intHeader(headers, H.attempt, 1);
  return Math.max(1, value);
}

/** `qk-max-attempts`: an integer in 1..{@link HEADER_BOUNDS}.maxAttempts, else `fallback`. */
export function maxAttemptsHeader(headers: Readonly<Record<string, string>>, fallback: number): number {
  const value = intHeader(headers, H.maxAttempts, fallback);
  return value >= 1 && value <= HEADER_BOUNDS.maxAttempts ? value : fallback;
}

/**
 * `qk-not-before` (epoch ms): 0 when absent or malformed, `undefined` when it lies further ahead than
 * {@link HEADER_BOUNDS}.maxDelayMs (the caller dead-letters the message as `invalid-headers`).
 */
export function notBeforeHeader(
  headers: Readonly<Record<string, string>>,
  now = Date.now(),
): number | undefined {
  const value = intHeader(headers, H.notBefore, 0);
  if (value <= 0) return 0;
  return value > now + HEADER_BOUNDS.maxDelayMs ? undefined : value;
}

/** A header holding a JSON object (not an array or null), else undefined. Never throws. */
export function jsonObjectHeader(raw: string): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : undefined;
}

/** `qk-backoff`: a well-formed policy within the supported delays, else undefined. */
export function backoffHeader(
  headers: Readonly<Record<string, string>>,
): Required<BackoffOptions> | undefined {
  const raw = headers[H.backoff];
  if (!raw || raw.length > 256) return undefined;
  const parsed = jsonObjectHeader(raw);
  if (parsed === undefined) return undefined;
  const { type, delay, maxDelay, jitter } = parsed;
  const duration = (value: unknown) =>
    typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= HEADER_BOUNDS.maxDelayMs;
  if (type !== undefined && type !== 'fixed' && type !== 'exponential') return undefined;
  if (delay !== undefined && !duration(delay)) return undefined;
  if (maxDelay !== undefined && !duration(maxDelay)) return undefined;
  if (jitter !== undefined && !(typeof jitter === 'number' && jitter >= 0 && jitter <= 1)) return undefined;
  return {
    type: type ?? DEFAULT_BACKOFF.type,
    delay: (delay as number | undefined) ?? DEFAULT_BACKOFF.delay,
    maxDelay: (maxDelay as number | undefined) ?? DEFAULT_BACKOFF.maxDelay,
    jitter: (jitter as number | undefined) ?? DEFAULT_BACKOFF.jitter,
  };
}
