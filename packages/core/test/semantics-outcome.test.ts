import { describe, expect, it } from 'vitest';
import { RetryAfterError, UnrecoverableError } from '../src/index.js';
import type { AttemptInfo } from '../src/semantics/attempts.js';
import {
  admit,
  decideOutcome,
  MAX_IN_PLACE_RETRY_MS,
  type OutcomeJob,
  type SettleAbilities,
} from '../src/semantics/outcome.js';

/** A broker that releases in place (SQS-like) with a 15-minute native delay. */
const releasing: SettleAbilities = {
  maxDelayMs: 900_000,
  ordering: false,
  lockRenewal: true,
  release: true,
  extendLock: true,
  lockLeftMs: 30_000,
  lockLost: false,
};
/** A broker without release or renewal (the core re-sends copies). */
const copying: SettleAbilities = { ...releasing, release: false, lockRenewal: false, extendLock: false };
const job = (over: Partial<OutcomeJob> = {}): OutcomeJob => ({ attempt: 1, maxAttempts: 3, ...over });
const fixed = { backoff: { type: 'fixed' as const, delay: 500 } };
const fail = new Error('boom');

describe('decideOutcome', () => {
  it('acks a handler that resolved', () => {
    expect(decideOutcome(job(), undefined, fixed, releasing)).toEqual({ kind: 'ack' });
  });

  it('dead-letters an UnrecoverableError at once, counting the attempt made', () => {
    expect(decideOutcome(job({ attempt: 1 }), new UnrecoverableError('bad input'), fixed, releasing)).toEqual(
      {
        kind: 'dead-letter',
        reason: 'unrecoverable',
        error: 'bad input',
        attempts: 1,
      },
    );
  });

  it('dead-letters the last attempt as max-attempts', () => {
    expect(decideOutcome(job({ attempt: 3 }), fail, fixed, releasing)).toMatchObject({
      kind: 'dead-letter',
      reason: 'max-attempts',
      attempts: 3,
    });
  });

  it('retries with the queue backoff, released in place where the delivery can be', () => {
    expect(decideOutcome(job({ attempt: 2 }), fail, fixed, releasing)).toEqual({
      kind: 'retry',
      delayMs: 500,
      attempt: 3,
      via: 'release',
    });
  });

  it('copies instead of releasing when the delay is longer than one hop', () => {
    const outcome = decideOutcome(job(), fail, { ...fixed, maxDelayHop: 100 }, releasing);
    expect(outcome).toMatchObject({ kind: 'retry', delayMs: 500, via: 'copy' });
  });

  it('copies when the delivery cannot be released', () => {
    expect(decideOutcome(job(), fail, fixed, copying)).toMatchObject({
      kind: 'retry',
      via: 'copy',
      attempt: 2,
    });
  });

  it("prefers the queue's backoff over the message's unless the consumer trusts messages", () => {
    const forged = job({ backoff: { type: 'fixed', delay: 0 } });
    expect(decideOutcome(forged, fail, fixed, copying)).toMatchObject({ delayMs: 500 });
    // A message's zero delay is still held to the minimum: no message can make a worker spin.
    expect(decideOutcome(forged, fail, { ...fixed, trustMessageBackoff: true }, copying)).toMatchObject({
      delayMs: 10,
    });
  });

  it('applies exponential backoff from the attempt that failed', () => {
    const policy = { backoff: { type: 'exponential' as const, delay: 100 }, random: () => 0 };
    expect(decideOutcome(job({ attempt: 2 }), fail, policy, copying)).toMatchObject({ delayMs: 200 });
  });

  it('never releases a RetryAfterError (the broker would count it), and keeps the attempt unless it counts', () => {
    const outcome = decideOutcome(job({ attempt: 3 }), new RetryAfterError(2_000), fixed, releasing);
    expect(outcome).toEqual({ kind: 'retry', delayMs: 2_000, attempt: 3, via: 'copy' });
    const counted = new RetryAfterError(2_000, { countsAsAttempt: true });
    expect(decideOutcome(job({ attempt: 2 }), counted, fixed, releasing)).toMatchObject({ attempt: 3 });
    expect(decideOutcome(job({ attempt: 3 }), counted, fixed, releasing)).toMatchObject({
      kind: 'dead-letter',
      reason: 'max-attempts',
    });
  });

  it('retries a keyed job in place where the broker orders keys and the lock can be kept', () => {
    const ordered = { ...releasing, ordering: true, release: false };
    expect(decideOutcome(job({ orderingKey: 'k' }), fail, fixed, ordered)).toMatchObject({ via: 'in-place' });
    // Without renewal the lock left must outlast the wait.
    const short = { ...ordered, lockRenewal: false, lockLeftMs: 550 };
    expect(decideOutcome(job({ orderingKey: 'k' }), fail, fixed, short)).toMatchObject({ via: 'copy' });
    expect(
      decideOutcome(job({ orderingKey: 'k' }), fail, fixed, { ...short, lockLeftMs: 700 }),
    ).toMatchObject({
      via: 'in-place',
    });
    // A lost lock, or a wait past the in-place bound, re-sends.
    expect(
      decideOutcome(job({ orderingKey: 'k' }), fail, fixed, { ...ordered, lockLost: true }),
    ).toMatchObject({
      via: 'copy',
    });
    const long = { backoff: { type: 'fixed' as const, delay: MAX_IN_PLACE_RETRY_MS + 1 } };
    expect(decideOutcome(job({ orderingKey: 'k' }), fail, long, ordered)).toMatchObject({ via: 'copy' });
  });
});

describe('admit', () => {
  const info = (over: Partial<AttemptInfo> = {}): AttemptInfo => ({
    attempt: 1,
    maxAttempts: 3,
    notBefore: 0,
    backoff: undefined,
    ...over,
  });
  const now = 1_000_000;

  it('runs a due delivery within its attempts', () => {
    expect(admit(info(), 1, {}, now)).toEqual({ kind: 'run' });
  });

  it('re-parks a delivery that arrived before its time (a delay hop) for the rest', () => {
    expect(admit(info({ notBefore: now + 250 }), 1, {}, now)).toEqual({ kind: 're-park', remainingMs: 250 });
  });

  it('dead-letters headers it cannot honour before anything else', () => {
    expect(admit(info({ invalid: 'too far', notBefore: now + 5 }), 1, {}, now)).toMatchObject({
      kind: 'dead-letter',
      reason: 'invalid-headers',
    });
  });

  it('refuses a delivery past its attempts, counting only the attempts made', () => {
    expect(admit(info({ attempt: 4 }), 4, {}, now)).toMatchObject({
      kind: 'dead-letter',
      reason: 'max-attempts',
      attempts: 3,
    });
  });

  it('writes a flagged redelivery down as a copy before it runs', () => {
    expect(admit(info({ attempt: 2 }), 2, { deliveryCount: 'flag' }, now)).toEqual({
      kind: 'recount',
      attempt: 2,
    });
    expect(admit(info({ attempt: 2 }), 2, { deliveryCount: 'exact' }, now)).toEqual({ kind: 'run' });
    expect(admit(info({ attempt: 4 }), 2, { deliveryCount: 'flag' }, now)).toMatchObject({
      kind: 'dead-letter',
    });
  });
});
