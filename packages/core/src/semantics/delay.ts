import type { Capabilities } from '../driver.js';
import { H, HEADER_BOUNDS } from '../headers.js';

/**
 * Delays and hops. A delay longer than one native send may carry travels in hops: each send carries at
 * most {@link hopLimit}, the message keeps its due time in `qk-not-before`, and a copy that arrives early
 * is parked again for the rest (see `admit` in outcome.ts).
 */

/** Longest delay one native send may carry for this queue. */
export function hopLimit(
  capabilities: Pick<Capabilities, 'maxDelayMs'>,
  maxDelayHop: number | undefined,
): number {
  return Math.min(capabilities.maxDelayMs, maxDelayHop ?? Number.POSITIVE_INFINITY);
}

/** The part of `delayMs` the next send carries (the first hop). */
export function firstHop(
  delayMs: number,
  capabilities: Pick<Capabilities, 'maxDelayMs'>,
  maxDelayHop: number | undefined,
): number {
  return Math.min(delayMs, hopLimit(capabilities, maxDelayHop));
}

/** Headers of a copy due after `delayMs`: `qk-not-before` set to its due time, or removed when due now. */
export function withDueTime(
  headers: Readonly<Record<string, string>>,
  delayMs: number,
  now = Date.now(),
): Record<string, string> {
  const out: Record<string, string> = { ...headers };
  if (delayMs > 0) out[H.notBefore] = String(now + delayMs);
  else delete out[H.notBefore];
  return out;
}

/** A retry delay within the supported range, never below the minimum (no message can make a worker spin). */
export function boundedRetryDelay(delayMs: number): number {
  if (!Number.isFinite(delayMs)) return HEADER_BOUNDS.minRetryDelayMs;
  return Math.min(HEADER_BOUNDS.maxDelayMs, Math.max(HEADER_BOUNDS.minRetryDelayMs, Math.round(delayMs)));
}
