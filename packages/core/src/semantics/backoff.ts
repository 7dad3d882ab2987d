/** How long to wait before the next attempt of a failed job. */
export interface BackoffOptions {
  /** `fixed`: always `delay`. `exponential`: `delay * 2^(attempt-1)`. Default `exponential`. */
  readonly type?: 'fixed' | 'exponential';
  /** Base delay in ms. Default 1000. */
  readonly delay?: number;
  /** Upper bound in ms. Default 3,600,000 (1 hour). */
  readonly maxDelay?: number;
  /** Fraction (0-1) of the delay taken off at random, to spread retries. Default 0. */
  readonly jitter?: number;
}

/** Defaults applied to every unset field of {@link BackoffOptions}. */
export const DEFAULT_BACKOFF: Required<BackoffOptions> = {
  type: 'exponential',
  delay: 1000,
  maxDelay: 3_600_000,
  jitter: 0,
};

/** Delay before attempt `failedAttempt + 1`, given the 1-based attempt that just failed. */
export function backoffDelay(
  options: BackoffOptions | undefined,
  failedAttempt: number,
  random = Math.random,
): number {
  const { type, delay, maxDelay, jitter } = { ...DEFAULT_BACKOFF, ...options };
  const raw = type === 'fixed' ? delay : delay * 2 ** Math.max(0, failedAttempt - 1);
  const capped = Math.min(raw, maxDelay);
  return Math.max(0, Math.round(capped - capped * jitter * random()));
}
