import type { DeadLetterInfo, Delivery, OutgoingMessage, ReceivedMessage, ReleaseInfo } from '../driver.js';
import { LockLostError, QueueClosedError, QueuekitError } from '../errors.js';
import { type ClassifyContext, classifyError, type ErrorClassifier } from './classify.js';

/** A follow-up group of `ackWith`. */
export type FollowUps = readonly { readonly queue: string; readonly messages: readonly OutgoingMessage[] }[];

/**
 * The broker operations behind one delivery. Each is called at most once for a settlement (the kit
 * refuses a second one), only while the lock is held as far as the kit can tell, and its errors go
 * through the driver's classifier. Throw `LockLostError` when the broker says the lock is gone.
 */
export interface DeliveryOperations {
  ack(result?: unknown): Promise<void>;
  deadLetter(info: DeadLetterInfo): Promise<void>;
  ackWith?(followUps: FollowUps, result?: unknown): Promise<void>;
  release?(delayMs: number, info?: ReleaseInfo): Promise<void>;
  /** Hide the message for `ms` without counting a delivery (see `Delivery.defer`). */
  defer?(ms: number): Promise<void>;
  /**
   * Renew the lock for `ms` from now. Resolve with the new lock end (a number, epoch ms) when the broker tells,
   * else nothing: the kit then takes the time the call started plus `ms`.
   */
  extendLock?(ms: number): Promise<unknown>;
  progress?(value: unknown): Promise<void>;
  log?(line: string): Promise<void>;
}

/** Arguments of {@link createDelivery}. */
export interface CreateDeliveryOptions {
  /** The message as received (spread into the delivery: id, name, body, headers, deliveryCount, raw...). */
  readonly message: ReceivedMessage;
  /** When the lock taken by `receive` runs out, in epoch ms. */
  readonly lockedUntil: number;
  /** The driver's handle of this delivery (`Delivery.deliveryToken`, echoed in `copyOf`). */
  readonly deliveryToken?: string;
  readonly operations: DeliveryOperations;
  /** The driver's `provider` (named in a `DriverError`). */
  readonly provider: string;
  readonly classify?: ErrorClassifier | undefined;
  /** Applied to an error the classifier left untyped before it is wrapped (a `Scrubber.error` of the URL's secrets). */
  readonly scrub?: <E>(error: E) => E;
  /** Whether the driver is closed: every operation then rejects with `QueueClosedError`. */
  readonly isClosed?: () => boolean;
  /** Clock, epoch ms (tests). Default `Date.now`. */
  readonly now?: () => number;
}

type Settlement = 'ack' | 'ackWith' | 'deadLetter' | 'release' | 'defer';

/**
 * A {@link Delivery} that keeps the contract's invariants for the driver: exactly one settlement wins
 * (a second one, or one racing the first, rejects with `LockLostError`); nothing is settled once the
 * lock has run out locally (`LockLostError`, without calling the broker); `lockedUntil` follows every
 * renewal and drops to now once the lock is known lost; a failed settlement that did not lose the lock
 * may be retried; every error is a queuekit error (the driver's classifier, else `DriverError`).
 */
export function createDelivery(options: CreateDeliveryOptions): Delivery {
  const { operations: ops, message } = options;
  const now = options.now ?? Date.now;
  const context: ClassifyContext = {
    provider: options.provider,
    classify: options.classify,
    scrub: options.scrub,
  };
  let lockedUntil = options.lockedUntil;
  let settled: Settlement | undefined;

  const checkOpen = (operation: string) => {
    if (options.isClosed?.())
      throw new QueueClosedError(`${operation}: the ${options.provider} driver is closed`);
  };
  const checkLock = (operation: string) => {
    checkOpen(operation);
    if (settled) throw new LockLostError(`${operation}: the delivery was already settled (${settled})`);
    if (now() >= lockedUntil) throw new LockLostError(`${operation}: the lock ran out before it was settled`);
  };
  const failed = (error: unknown, operation: string): QueuekitError => {
    const typed = classifyError(error, operation, context);
    if (QueuekitError.is(typed, 'ERR_LOCK_LOST')) lockedUntil = Math.min(lockedUntil, now());
    return typed;
  };
  const settle = async (operation: Settlement, work: () => Promise<void>): Promise<void> => {
    checkLock(operation);
    settled = operation;
    try {
      await work();
    } catch (error) {
      const typed = failed(error, operation);
      // The broker kept the message under our lock: another settlement may still be tried.
      if (!QueuekitError.is(typed, 'ERR_LOCK_LOST')) settled = undefined;
      throw typed;
    }
  };
  const call = async <T>(operation: string, work: () => Promise<T>): Promise<T> => {
    checkOpen(operation);
    try {
      return await work();
    } catch (error) {
      throw failed(error, operation);
    }
  };

  const { ackWith, release, defer, extendLock, progress, log } = ops;
  return {
    ...message,
    ...(options.deliveryToken === undefined ? {} : { deliveryToken: options.deliveryToken }),
    get lockedUntil() {
      return lockedUntil;
    },
    ack: (result) => settle('ack', () => ops.ack(result)),
    deadLetter: (info) => settle('deadLetter', () => ops.deadLetter(info)),
    ...(ackWith
      ? {
          ackWith: (followUps: FollowUps, result?: unknown) =>
            settle('ackWith', () => ackWith(followUps, result)),
        }
      : {}),
    ...(release
      ? { release: (delayMs: number, info?: ReleaseInfo) => settle('release', () => release(delayMs, info)) }
      : {}),
    ...(defer ? { defer: (ms: number) => settle('defer', () => defer(ms)) } : {}),
    ...(extendLock
      ? {
          extendLock: async (ms: number) => {
            checkLock('extendLock');
            const startedAt = now();
            const until = await call('extendLock', () => extendLock(ms));
            // A settlement that won meanwhile ended the lock: do not bring it back.
            if (!settled) lockedUntil = typeof until === 'number' ? until : startedAt + ms;
          },
        }
      : {}),
    ...(progress ? { progress: (value: unknown) => call('progress', () => progress(value)) } : {}),
    ...(log ? { log: (line: string) => call('log', () => log(line)) } : {}),
  };
}
