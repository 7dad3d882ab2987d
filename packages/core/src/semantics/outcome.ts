import { type BackoffOptions, backoffDelay } from './backoff.js';
import type { Capabilities } from '../driver.js';
import { QueuekitError } from '../errors.js';
import type { AttemptInfo } from './attempts.js';
import { boundedRetryDelay, hopLimit } from './delay.js';

/**
 * What happens to a delivery. Pure: decided from the job, the error, the queue's policy and what the
 * driver and delivery can do, so it is tested without a driver.
 */
export type Outcome =
  /** The handler resolved: remove the message. */
  | { readonly kind: 'ack' }
  /** Another attempt after `delayMs`, numbered `attempt`, by `via`. */
  | {
      readonly kind: 'retry';
      readonly delayMs: number;
      readonly attempt: number;
      /**
       * `release`: the broker hides the delivery in place (its delivery count carries the attempt).
       * `in-place`: the consumer keeps the delivery locked, waits, and runs the handler again (keeps a key's order).
       * `copy`: the core sends a copy with the attempt in its headers, then acks the original.
       */
      readonly via: 'release' | 'in-place' | 'copy';
    }
  /** To the dead letters with `reason`, after `attempts` attempts. */
  | {
      readonly kind: 'dead-letter';
      readonly reason: string;
      readonly error: string;
      readonly attempts: number;
    };

/** Before the handler runs: run it, or settle the delivery without running it. */
export type Admission =
  | { readonly kind: 'run' }
  | {
      readonly kind: 'dead-letter';
      readonly reason: string;
      readonly error: string;
      readonly attempts?: number;
    }
  /** It arrived before its time (a delay hop): put a copy back for the rest. */
  | { readonly kind: 're-park'; readonly remainingMs: number }
  /** A redelivery on a broker that only flags it: a copy with the attempt written down, due now. */
  | { readonly kind: 'recount'; readonly attempt: number };

/** The queue's retry policy. */
export interface RetryPolicy {
  /** The queue's backoff (`defaults.backoff`). */
  readonly backoff?: BackoffOptions | undefined;
  /** A message's own `qk-backoff` wins over the queue's (it is anyone's to forge otherwise). */
  readonly trustMessageBackoff?: boolean;
  /** The queue's cap on one native delay. */
  readonly maxDelayHop?: number | undefined;
  /** Source of jitter (tests pass a fixed one). */
  readonly random?: () => number;
}

/** What the driver and this delivery can do, as far as the outcome depends on it. */
export interface SettleAbilities extends Pick<Capabilities, 'maxDelayMs' | 'ordering' | 'lockRenewal'> {
  /** The delivery offers `release`. */
  readonly release: boolean;
  /** The delivery offers `extendLock`. */
  readonly extendLock: boolean;
  /** Lock time left, in ms (Infinity when the driver does not tell). */
  readonly lockLeftMs: number;
  /** The lock is already lost, or the job was aborted. */
  readonly lockLost: boolean;
}

/** The job as the outcome sees it. */
export interface OutcomeJob {
  readonly attempt: number;
  readonly maxAttempts: number;
  /** The message's own backoff (`qk-backoff`). */
  readonly backoff?: BackoffOptions | undefined;
  readonly orderingKey?: string | undefined;
}

/** Longest keyed retry the consumer waits for in place (holding its slot) to keep the key's order. */
export const MAX_IN_PLACE_RETRY_MS = 15 * 60_000;
/** Lock time a driver that cannot renew must have beyond an in-place wait. */
const IN_PLACE_LOCK_MARGIN_MS = 100;

/** The outcome of one attempt: `error` undefined means the handler resolved. */
export function decideOutcome(
  job: OutcomeJob,
  error: Error | undefined,
  policy: RetryPolicy,
  abilities: SettleAbilities,
): Outcome {
  if (error === undefined) return { kind: 'ack' };
  if (QueuekitError.is(error, 'ERR_UNRECOVERABLE'))
    return { kind: 'dead-letter', reason: 'unrecoverable', error: error.message, attempts: job.attempt };
  if (
    QueuekitError.is(error, 'ERR_RETRY_AFTER') &&
    !(error.countsAsAttempt && job.attempt >= job.maxAttempts)
  ) {
    // Never `release`: the broker would count the delivery, and this retry may not count as an attempt.
    const delayMs = boundedRetryDelay(error.delayMs);
    const attempt = error.countsAsAttempt ? job.attempt + 1 : job.attempt;
    return {
      kind: 'retry',
      delayMs,
      attempt,
      via: keepsOrderInPlace(job, delayMs, abilities) ? 'in-place' : 'copy',
    };
  }
  if (job.attempt >= job.maxAttempts)
    return { kind: 'dead-letter', reason: 'max-attempts', error: error.message, attempts: job.attempt };
  const backoff = policy.trustMessageBackoff
    ? (job.backoff ?? policy.backoff)
    : (policy.backoff ?? job.backoff);
  const delayMs = boundedRetryDelay(backoffDelay(backoff, job.attempt, policy.random));
  const attempt = job.attempt + 1;
  if (abilities.release && delayMs <= hopLimit(abilities, policy.maxDelayHop))
    return { kind: 'retry', delayMs, attempt, via: 'release' };
  return {
    kind: 'retry',
    delayMs,
    attempt,
    via: keepsOrderInPlace(job, delayMs, abilities) ? 'in-place' : 'copy',
  };
}

/**
 * A re-sent copy would queue behind the later jobs of its ordering key. Where the broker orders keys,
 * a keyed retry of up to MAX_IN_PLACE_RETRY_MS instead keeps the delivery (and so the key) locked,
 * waits, and runs the handler again in place: the key's later jobs wait, as ordering promises.
 */
function keepsOrderInPlace(job: OutcomeJob, delayMs: number, abilities: SettleAbilities): boolean {
  if (job.orderingKey === undefined || !abilities.ordering) return false;
  if (delayMs > MAX_IN_PLACE_RETRY_MS || abilities.lockLost) return false;
  if (abilities.lockRenewal && abilities.extendLock) return true;
  const left = abilities.lockLeftMs;
  return left !== Number.POSITIVE_INFINITY && left > delayMs + IN_PLACE_LOCK_MARGIN_MS;
}

/** Whether a delivery runs, given its attempt headers, its delivery count and the broker's kind of count. */
export function admit(
  info: AttemptInfo,
  deliveryCount: number,
  capabilities: Pick<Capabilities, 'deliveryCount'>,
  now: number,
): Admission {
  if (info.invalid !== undefined)
    return { kind: 'dead-letter', reason: 'invalid-headers', error: info.invalid };
  if (info.notBefore > now) return { kind: 're-park', remainingMs: info.notBefore - now };
  // Brokers that only flag redelivery report every redelivery as 2: make the count persistent by
  // re-sending a copy with the attempt bumped before any handler runs (the copy arrives as delivery 1).
  if (capabilities.deliveryCount === 'flag' && deliveryCount > 1 && info.attempt <= info.maxAttempts)
    return { kind: 'recount', attempt: info.attempt };
  if (info.attempt > info.maxAttempts) {
    // Refused before running: the attempts made are the ones before this delivery.
    return {
      kind: 'dead-letter',
      reason: 'max-attempts',
      error: `Delivered ${info.attempt} times without completing (worker crashed or lock lost)`,
      attempts: Math.min(info.attempt - 1, info.maxAttempts),
    };
  }
  return RUN;
}

const RUN: Admission = Object.freeze({ kind: 'run' });
