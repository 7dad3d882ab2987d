import type { DeadLetterInfo, Delivery, OutgoingMessage, ReceivedMessage, ReleaseInfo } from '../driver.js';
import { LockLostError, QueueClosedError, QueuekitError } from '../errors.js';
import { type ClassifyContext, classifyError, type ErrorClassifier } from './classify.js';

/** A follow-up group of `ackWith`. */
export type FollowUps = readonly { readonly queue: string; readonly messages: readonly OutgoingMessage[] }[];

/**
 * The broker operations behind one delivery. Each is called at most once for a settlement (the kit
 * refuses a second one), only while the lock is held as far as the kit can tell, and its errors go
 * through the driver's classifier. Throw `LockLostError` when the broker says the lock is gone.
 * Each is called as a method of this object (`operations.ack(result)`), so a class may implement them.
 *
 * A renewal meeting a settlement (the kit decides, the driver does nothing): `extendLock` called while a
 * settlement's broker call is in flight waits for it and never reaches the broker if it succeeded; it then
 * resolves (the lock is no longer needed). One whose broker call was in flight when a settlement started
 * (the settlement giving the lock back may be why it failed) resolves the same way once the settlement
 * succeeded. When the settlement failed without losing the lock, the renewal goes on as if there had been
 * none (the message is still ours, and the handler may settle again); when it lost the lock, the renewal
 * rejects with `LockLostError`.
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
  /**
   * When the lock taken by `receive` runs out, in epoch ms. The kit keeps it as time left on a monotonic clock
   * (`performance.now`), so a wall clock that jumps neither loses nor extends the lock; `Delivery.lockedUntil`
   * reports it against the wall clock of the moment it is read.
   */
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
  /** Clock, epoch ms (tests): used as both the wall and the monotonic clock. Default `Date.now` and `performance.now`. */
  readonly now?: () => number;
}

type Settlement = 'ack' | 'ackWith' | 'deadLetter' | 'release' | 'defer';

/**
 * A {@link Delivery} that keeps the contract's invariants for the driver: exactly one settlement wins
 * (a second one, or one racing the first, rejects with `LockLostError`); nothing is settled once the
 * lock has run out locally (`LockLostError`, without calling the broker), on a monotonic clock;
 * `lockedUntil` (epoch ms) follows every renewal and drops to now once the lock is known lost; a failed
 * settlement that did not lose the lock may be retried; a renewal meeting a settlement resolves as it
 * does (see {@link DeliveryOperations}); every error is a queuekit error (the driver's classifier, else
 * `DriverError`).
 */
export function createDelivery(options: CreateDeliveryOptions): Delivery {
  return new KitDelivery(options) as unknown as Delivery;
}

/**
 * Whether `delivery` is one {@link createDelivery} made, with none of its calls replaced: each of them
 * already rejects only with queuekit errors, so the core's guard need not wrap it. Internal.
 */
export function isKitDelivery(delivery: Delivery): boolean {
  return KitDelivery.pristine(delivery);
}

type Call<A extends unknown[], R = void> = ((...args: A) => Promise<R>) | undefined;

/**
 * The delivery itself. Its calls are own properties (a driver may spread the delivery or destructure a
 * call, as before), made once per delivery; its state sits in private fields, out of `inspect` and spreads.
 * One object and a handful of small closures per delivery: this runs once for every message received.
 */
class KitDelivery {
  readonly #options: CreateDeliveryOptions;
  readonly #ops: DeliveryOperations;
  #context: ClassifyContext | undefined;
  /** When the lock runs out, on the monotonic clock ({@link KitDelivery.#clock}). */
  #deadline: number;
  #settled: Settlement | undefined;
  /** A settlement's broker call is running; `#won`: one succeeded. */
  #settling = false;
  #won = false;
  /** Renewals waiting for the settlement in flight. */
  #waiting: (() => void)[] | undefined;
  readonly #ack: Call<[unknown?]>;
  readonly #deadLetter: Call<[DeadLetterInfo]>;
  readonly #ackWith: Call<[FollowUps, unknown?]>;
  readonly #release: Call<[number, ReleaseInfo?]>;
  readonly #defer: Call<[number]>;
  readonly #extendLock: Call<[number]>;
  readonly #progress: Call<[unknown]>;
  readonly #log: Call<[string]>;

  constructor(options: CreateDeliveryOptions) {
    Object.assign(this, options.message);
    const self = this as unknown as Record<string, unknown>;
    if (options.deliveryToken !== undefined) self.deliveryToken = options.deliveryToken;
    this.#options = options;
    const ops = options.operations;
    this.#ops = ops;
    this.#deadline = this.#fromEpoch(options.lockedUntil);
    const { ackWith, release, defer, extendLock, progress, log } = ops;
    self.ack = this.#ack = (result?: unknown) => this.#settle('ack', result, undefined);
    self.deadLetter = this.#deadLetter = (info: DeadLetterInfo) =>
      this.#settle('deadLetter', info, undefined);
    if (ackWith)
      self.ackWith = this.#ackWith = (followUps: FollowUps, result?: unknown) =>
        this.#settle('ackWith', followUps, result);
    if (release)
      self.release = this.#release = (delayMs: number, info?: ReleaseInfo) =>
        this.#settle('release', delayMs, info);
    if (defer) self.defer = this.#defer = (ms: number) => this.#settle('defer', ms, undefined);
    if (extendLock) self.extendLock = this.#extendLock = (ms: number) => this.#extend(ms);
    if (progress)
      self.progress = this.#progress = (value: unknown) =>
        this.#call('progress', () => ops.progress?.(value));
    if (log) self.log = this.#log = (line: string) => this.#call('log', () => ops.log?.(line));
  }

  static pristine(delivery: object): boolean {
    if (!(#ack in delivery)) return false;
    const d = delivery as unknown as Record<string, unknown> & KitDelivery;
    return (
      d.ack === d.#ack &&
      d.deadLetter === d.#deadLetter &&
      d.ackWith === d.#ackWith &&
      d.release === d.#release &&
      d.defer === d.#defer &&
      d.extendLock === d.#extendLock &&
      d.progress === d.#progress &&
      d.log === d.#log
    );
  }

  get lockedUntil(): number {
    const now = this.#options.now;
    // Whole ms, rounded up: the two clocks' offset is fractional, and a lock end reported a fraction before the
    // one a renewal asked for would read as a renewal short of its span.
    return now ? this.#deadline : Math.ceil(Date.now() + (this.#deadline - performance.now()));
  }

  /** The monotonic clock the lock is kept on (the injected clock in tests). */
  #clock(): number {
    const now = this.#options.now;
    return now ? now() : performance.now();
  }

  /** An epoch-ms instant on the monotonic clock. */
  #fromEpoch(epochMs: number): number {
    return this.#options.now ? epochMs : epochMs - Date.now() + performance.now();
  }

  #checkOpen(operation: string): void {
    const options = this.#options;
    if (options.isClosed?.())
      throw new QueueClosedError(`${operation}: the ${options.provider} driver is closed`);
  }

  #checkLock(operation: string): void {
    this.#checkOpen(operation);
    if (this.#settled)
      throw new LockLostError(`${operation}: the delivery was already settled (${this.#settled})`);
    if (this.#clock() >= this.#deadline)
      throw new LockLostError(`${operation}: the lock ran out before it was settled`);
  }

  #failed(error: unknown, operation: string): QueuekitError {
    const options = this.#options;
    this.#context ??= { provider: options.provider, classify: options.classify, scrub: options.scrub };
    const typed = classifyError(error, operation, this.#context);
    if (QueuekitError.is(typed, 'ERR_LOCK_LOST')) this.#deadline = Math.min(this.#deadline, this.#clock());
    return typed;
  }

  /** The broker call of a settlement, on the operations object: the arguments are those the caller passed. */
  #invoke(operation: Settlement, a: unknown, b: unknown): Promise<void> {
    const ops = this.#ops;
    switch (operation) {
      case 'ack':
        return ops.ack(a);
      case 'deadLetter':
        return ops.deadLetter(a as DeadLetterInfo);
      case 'ackWith':
        return (ops.ackWith as NonNullable<DeliveryOperations['ackWith']>)(a as FollowUps, b);
      case 'release':
        return (ops.release as NonNullable<DeliveryOperations['release']>)(a as number, b as ReleaseInfo);
      case 'defer':
        return (ops.defer as NonNullable<DeliveryOperations['defer']>)(a as number);
    }
  }

  async #settle(operation: Settlement, a: unknown, b: unknown): Promise<void> {
    this.#checkLock(operation);
    this.#settled = operation;
    this.#settling = true;
    try {
      await this.#invoke(operation, a, b);
      this.#won = true;
    } catch (error) {
      const typed = this.#failed(error, operation);
      // The broker kept the message under our lock: another settlement may still be tried.
      if (!QueuekitError.is(typed, 'ERR_LOCK_LOST')) this.#settled = undefined;
      throw typed;
    } finally {
      this.#settling = false;
      const waiting = this.#waiting;
      this.#waiting = undefined;
      if (waiting) for (const resume of waiting) resume();
    }
  }

  /** Once no settlement's broker call is in flight: whether a settlement won. */
  async #settlement(): Promise<boolean> {
    if (this.#settling) {
      this.#waiting ??= [];
      const waiting = this.#waiting;
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    return this.#won;
  }

  async #call<T>(operation: string, work: () => Promise<T> | undefined): Promise<T | undefined> {
    this.#checkOpen(operation);
    try {
      return await work();
    } catch (error) {
      throw this.#failed(error, operation);
    }
  }

  async #extend(ms: number): Promise<void> {
    this.#checkOpen('extendLock');
    // Meeting a settlement in flight: resolve as it does (see DeliveryOperations).
    if (this.#settling && (await this.#settlement())) return;
    this.#checkLock('extendLock');
    const startedAt = this.#clock();
    let until: unknown;
    try {
      until = await this.#ops.extendLock?.(ms);
    } catch (error) {
      const typed = this.#failed(error, 'extendLock');
      // A settlement started meanwhile: giving the lock back may be why the renewal failed.
      if (this.#settled && (await this.#settlement())) return;
      throw typed;
    }
    // A settlement that won meanwhile ended the lock: do not bring it back.
    if (this.#settled && (await this.#settlement())) return;
    if (this.#settled)
      throw new LockLostError(`extendLock: the lock was lost by the settlement (${this.#settled}) meanwhile`);
    this.#deadline = typeof until === 'number' ? this.#fromEpoch(until) : startedAt + ms;
  }
}
