/** The receive path: pooled SDK receivers, the prefetching stream, each delivery's lock, ordered settlements. */
import type { ServiceBusClient, ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import {
  type Delivery,
  type DeadLetterInfo,
  linkSignals,
  type QueuekitError,
  type ReceiveOptions,
  type SafeTimer,
  safeTimeout,
} from '@queuekit/core';
import { createDelivery, type DeliveryOperations, Wakeup } from '@queuekit/core/driver-kit';
import { isLockLost } from './errors.js';
import { deadLetterProperties, toReceivedMessage } from './wire.js';

/** Buffered (prefetched) messages' locks are held this long at most, renewed meanwhile. */
const BUFFERED_HOLD_MS = 10 * 60_000;
/**
 * A stream whose link has not been open for this long is replaced (doubling while replacements stay unopened, up
 * to STREAM_STALL_MAX_MS). SDK 7.9.5 attaches a subscription's link on the connection it had: a stream opened as
 * the connection reset waited for the link's 60 s operation timeout without a message or an error, and the
 * consumer with it (the fault suite's connection reset with priority bands, one stream per band).
 */
const STREAM_STALL_MS = 3_000;
const STREAM_STALL_MAX_MS = 60_000;
/** How often a waiting take looks at its link. */
const STREAM_CHECK_MS = 500;

/**
 * Whether the SDK's streaming receiver has its link open (7.9.x internals: `_streamingReceiver.isOpen()`);
 * undefined in another shape (then a stream is never taken for stalled).
 */
function streamLinkOpen(receiver: ServiceBusReceiver): boolean | undefined {
  const streaming = (receiver as unknown as { _streamingReceiver?: { isOpen?: unknown } })._streamingReceiver;
  const isOpen = streaming?.isOpen;
  return typeof isOpen === 'function' ? Boolean((isOpen as () => unknown).call(streaming)) : undefined;
}
/**
 * `receiveMessages` (7.9.5) waits up to 1 s after the first message for the batch to fill, with no option to change
 * it: a consumer asking for its free slots got a trickle of jobs late (p50 ~50 ms at 500 jobs/s). Here it does not
 * wait; the SDK still drains the link, so what the broker holds comes in the same call. SDK internals (the same in
 * 7.9.0 to 7.10.0-beta.2): used only where they have the shape seen there, a `_createBatchingReceiver` method whose
 * receiver has `receive(max, wait, afterFirst, options)`; otherwise the receiver is left as the SDK made it (the
 * public `receiveMessages`, with its wait).
 *
 * A wait of 0 after the first message is still a timer (`setTimeout(drain, 0)`: 1 ms or more, a linger on every
 * receive of an idle consumer). Where the batching receiver's `_batchingReceiverLite` has the 7.9.x shape (it
 * makes each message with `_createServiceBusMessage` and ends a receive with `_finalAction`), the drain starts once
 * the transfers read with the first message are in (a microtask): the broker sends what it holds before answering a
 * drain, so the batch is the same, one timer sooner. The timer left pending finds the drain under way (the SDK's
 * "Already draining") or is cleared when the receive resolves.
 */
export function withoutBatchWait(receiver: ServiceBusReceiver): ServiceBusReceiver {
  type Receive = (max: number, wait: number, afterFirst: unknown, options: unknown) => Promise<unknown>;
  const sdk = receiver as unknown as { _createBatchingReceiver?: (...args: unknown[]) => unknown };
  const create = sdk._createBatchingReceiver;
  if (typeof create !== 'function') return receiver;
  sdk._createBatchingReceiver = (...args) => {
    const batching = create.apply(receiver, args) as { receive?: Receive } | undefined;
    const receive = batching?.receive;
    if (!batching || typeof receive !== 'function' || receive.length !== 4) return batching;
    const drainOnFirst = drainOnFirstMessage(batching);
    batching.receive = (max, wait, afterFirst, options) => {
      const immediate = typeof afterFirst === 'number';
      if (immediate) drainOnFirst?.();
      return receive.call(batching, max, wait, immediate ? 0 : afterFirst, options);
    };
    return batching;
  };
  return receiver;
}

/**
 * Arms the next receive of `batching` to start its drain right after its first message (see {@link withoutBatchWait});
 * undefined when the SDK's internals are not the 7.9.x ones.
 */
function drainOnFirstMessage(batching: object): (() => void) | undefined {
  type Lite = { _createServiceBusMessage?: unknown; _finalAction?: unknown };
  const lite = (batching as { _batchingReceiverLite?: Lite })._batchingReceiverLite;
  const make = lite?._createServiceBusMessage;
  if (!lite || typeof make !== 'function' || make.length !== 1) return undefined;
  let armed = false;
  lite._createServiceBusMessage = (context: unknown) => {
    const message = (make as (context: unknown) => unknown).call(lite, context);
    if (armed) {
      armed = false;
      queueMicrotask(() => {
        const finish = lite._finalAction;
        if (typeof finish === 'function')
          void (finish as () => Promise<void>).call(lite).catch(() => undefined);
      });
    }
    return message;
  };
  return () => {
    armed = true;
  };
}

/**
 * Keeps a peek-lock as long as the core asked (`lockMs`, then `extendLock(ms)`), renewing it before the queue's
 * LockDuration runs out. The SDK's auto-renewal is off: a process that dies stops renewing.
 */
export class LockKeeper {
  #holdUntil: number;
  #brokerUntil: number;
  /** The broker's expiry as received, before any renewal. */
  readonly #firstUntil: number;
  #timer: SafeTimer | undefined;
  #stopped = false;
  failure: unknown;
  /**
   * Called once when the lock ran out unsettled (the hold passed, or the lock was lost): the kit refuses the
   * delivery's settlements from then on without calling the driver, so this is where its credit goes back.
   */
  expired: (() => void) | undefined;

  constructor(
    private readonly renew: () => Promise<Date>,
    brokerUntil: number,
    holdMs: number,
    /** The driver's: no renewal once it closed. */
    private readonly closing?: AbortSignal,
    expired?: () => void,
  ) {
    this.expired = expired;
    this.#brokerUntil = this.#firstUntil = brokerUntil;
    this.#holdUntil = Date.now() + holdMs;
    this.#schedule();
  }

  /** When the lock the core asked for runs out; the broker's last expiry once a renewal failed or it stopped. */
  get heldUntil(): number {
    if (this.failure !== undefined || this.#stopped) return this.#brokerUntil;
    return Math.max(this.#firstUntil, this.#holdUntil);
  }

  /** Keep the lock `ms` more from now; renews at once when the broker's lock ends earlier. */
  async hold(ms: number): Promise<void> {
    if (this.#stopped) return;
    this.#holdUntil = Math.max(this.#holdUntil, Date.now() + ms);
    // No expiry (nor a second renewal) while this one is out.
    this.#timer?.clear();
    try {
      if (this.#brokerUntil < Date.now() + ms) await this.#renewNow();
      this.#schedule();
    } catch (error) {
      this.#schedule(this.#final(error));
      throw error;
    }
  }

  /** Keep the lock exactly `ms` more from now (it may stop renewing sooner than before). */
  reset(ms: number): void {
    this.#holdUntil = Date.now() + ms;
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.clear();
  }

  async #renewNow(): Promise<void> {
    try {
      this.#brokerUntil = (await this.renew()).getTime();
      this.failure = undefined;
    } catch (error) {
      this.failure = error;
      throw error;
    }
  }

  /**
   * Whether a failed renewal ends the lock: a renewal that timed out (a busy broker or event loop) is tried again
   * while the lock may still be held; a lost lock is final.
   */
  #final(error: unknown): boolean {
    return isLockLost(error) || Date.now() >= this.#brokerUntil;
  }

  /** The next renewal while the broker's lock ends before the hold (and was not `lost`), else the expiry. */
  #schedule(lost = false): void {
    this.#timer?.clear();
    this.#timer = undefined;
    if (this.#stopped || this.closing?.aborted) return;
    const left = this.#brokerUntil - Date.now();
    if (!lost && this.#brokerUntil < this.#holdUntil)
      this.#timer = safeTimeout(
        () =>
          this.#renewNow().then(
            () => this.#schedule(),
            (error: unknown) => this.#schedule(this.#final(error)),
          ),
        // Renewed with half the time left: an event loop stalled for a third of a short lock must not lose it.
        Math.max(50, left - Math.max(left / 2, 200)),
      );
    else if (this.expired)
      this.#timer = safeTimeout(() => {
        this.stop();
        this.expired?.();
      }, this.heldUntil - Date.now());
    this.#timer?.unref();
  }
}

/**
 * Orders the settlements of one receiver: rhea 3.0.5 writes pending dispositions as ranges without comparing
 * their outcomes, so a complete and a dead-letter of one tick went out as two of one kind (issue 12, README).
 * Completes (`shared`, all alike) may share a frame; any other settlement runs alone.
 */
export class SettlementLane {
  /** The last exclusive settlement answered, and the shared ones started since. */
  #exclusive: Promise<unknown> = Promise.resolve();
  readonly #shared = new Set<Promise<unknown>>();

  run<T>(kind: 'shared' | 'exclusive', operation: () => Promise<T>): Promise<T> {
    const before = kind === 'shared' ? this.#exclusive : Promise.all([this.#exclusive, ...this.#shared]);
    const result = before.then(operation);
    const answered = result.then(
      () => undefined,
      () => undefined,
    );
    if (kind === 'exclusive') {
      this.#shared.clear();
      this.#exclusive = answered;
    } else {
      this.#shared.add(answered);
      void answered.then(() => this.#shared.delete(answered));
    }
    return result;
  }
}

/** A prefetched message, and how to give its credit back to the SDK (once settled). */
interface Prefetched {
  readonly message: ServiceBusReceivedMessage;
  readonly keeper: LockKeeper;
  readonly release: () => void;
}

/**
 * `prefetch`: the SDK's `subscribe()` with `maxConcurrentCalls` = the consumer's concurrency. Its handler resolves
 * once the delivery is settled, so buffered plus running never exceed it. Buffered messages keep their lock.
 */
class MessageStream {
  readonly #buffer: Prefetched[] = [];
  readonly #outstanding = new Set<Prefetched>();
  readonly #wakeup = new Wakeup();
  readonly #subscription: { close(): Promise<void> };
  #error: unknown;
  #closed = false;
  /** Since when its link has not been seen open (undefined while open). */
  #downSince: number | undefined = Date.now();
  /** Whether its link was ever seen open (or brought a message). */
  opened = false;

  constructor(
    readonly receiver: ServiceBusReceiver,
    credit: number,
    closing: AbortSignal,
    /** After how long without an open link it is {@link stalled}. */
    private readonly stallMs = STREAM_STALL_MS,
  ) {
    const processMessage = (message: ServiceBusReceivedMessage) =>
      new Promise<void>((resolve) => {
        const renew = () => receiver.renewMessageLock(message);
        const until = message.lockedUntilUtc?.getTime() ?? Date.now();
        const keeper = new LockKeeper(renew, until, BUFFERED_HOLD_MS, closing);
        const entry: Prefetched = {
          message,
          keeper,
          release: () => {
            keeper.stop();
            if (this.#outstanding.delete(entry)) resolve();
          },
        };
        keeper.expired = entry.release;
        this.#outstanding.add(entry);
        this.opened = true;
        if (this.#closed) return entry.release();
        this.#buffer.push(entry);
        this.#wakeup.wake();
      });
    const processError = async ({ error }: { error: unknown }) => {
      this.#error = error;
      this.#wakeup.wake();
    };
    this.#subscription = receiver.subscribe(
      { processMessage, processError },
      { maxConcurrentCalls: Math.max(1, credit), autoCompleteMessages: false },
    );
  }

  /** Whether its link has not been open for `stallMs` (nothing will come): the receiver replaces it. */
  get stalled(): boolean {
    const open = streamLinkOpen(this.receiver);
    if (open === undefined) return false;
    const now = Date.now();
    if (open) {
      this.opened = true;
      this.#downSince = undefined;
      return false;
    }
    this.#downSince ??= now;
    return now - this.#downSince >= this.stallMs;
  }

  /**
   * Up to `max` buffered messages, waiting up to `waitMs` for the first; [] when `signal` fires, or as soon as
   * it is {@link stalled}.
   */
  async take(max: number, waitMs: number, signal: AbortSignal): Promise<Prefetched[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const since = this.#wakeup.generation;
      if (this.#buffer.length > 0) return this.#buffer.splice(0, Math.max(1, max));
      const error = this.#error;
      this.#error = undefined;
      if (error !== undefined) throw error;
      if (this.#closed || Date.now() >= deadline || this.stalled) return [];
      const wait = Math.min(deadline - Date.now(), STREAM_CHECK_MS);
      if ((await this.#wakeup.wait(wait, signal, since)) === 'aborted') return [];
    }
  }

  /** Stop; let every message go (they come back after their lock), or only the buffered ones (`keepHandedOut`). */
  async close(keepHandedOut = false): Promise<void> {
    this.#closed = true;
    const buffered = this.#buffer.splice(0);
    this.#wakeup.wake();
    // Close first, so that returned credit is not used to take more messages.
    const closing = this.#subscription.close().catch(() => undefined);
    for (const entry of keepHandedOut ? buffered : [...this.#outstanding]) entry.release();
    await closing;
  }
}

/** One delivery's broker calls (the kit's `operations`): settlements in the receiver's lane, renewals by its keeper. */
export class Settlement implements DeliveryOperations {
  #settling = false;
  #done: (() => void) | undefined;

  constructor(
    private readonly receiver: ServiceBusReceiver,
    private readonly lane: SettlementLane,
    private readonly message: ServiceBusReceivedMessage,
    private readonly keeper: LockKeeper,
    private readonly prefetched: Prefetched | undefined,
    /** Called once the delivery is settled, or its lock ran out unsettled (the receiver holds it no more). */
    done?: () => void,
  ) {
    this.#done = done;
  }

  /** The lock ran out unsettled (the keeper's `expired`): the kit refuses its settlements from then on. */
  expire(): void {
    // A settlement accepted before and waiting for its turn ends it when answered.
    if (!this.#settling) this.#finish();
  }

  #finish(): void {
    const done = this.#done;
    this.#done = undefined;
    done?.();
  }

  ack(): Promise<void> {
    return this.#settle('shared', () => this.receiver.completeMessage(this.message));
  }

  deadLetter(info: DeadLetterInfo): Promise<void> {
    return this.#settle('exclusive', () =>
      this.receiver.deadLetterMessage(this.message, deadLetterProperties(info)),
    );
  }

  async extendLock(ms: number): Promise<number> {
    await this.keeper.hold(ms);
    return this.keeper.heldUntil;
  }

  /**
   * The lock stays renewed while the settlement waits for its turn. Settled (or lost under the broker call): no
   * more renewals, credit given back. A settlement the kit refuses without calling here (the lock ran out) is
   * the keeper's `expired`.
   */
  #settle(kind: 'shared' | 'exclusive', operation: () => Promise<void>): Promise<void> {
    const { keeper, prefetched } = this;
    this.#settling = true;
    return this.lane
      .run(kind, () => {
        keeper.stop();
        return operation();
      })
      .finally(() => (prefetched ? prefetched.release() : keeper.stop()))
      .then(
        () => this.#finish(),
        (error: unknown) => {
          // Refused with the lock kept (a timeout...): the kit may try another settlement until the lock's end.
          if (isLockLost(error)) this.#finish();
          else this.#finishAt(keeper.heldUntil);
          throw error;
        },
      );
  }

  #finishAt(until: number): void {
    this.#settling = false;
    safeTimeout(() => this.expire(), until - Date.now()).unref();
  }
}

/** The AMQP link (rhea's) a message came on, as SDK 7.9.x keeps it (`delivery.link`); undefined in another shape. */
interface Link {
  is_open(): boolean;
}
function linkOf(message: ServiceBusReceivedMessage): Link | undefined {
  const link = (message as unknown as { delivery?: { link?: { is_open?: unknown } } }).delivery?.link;
  return typeof link?.is_open === 'function' ? (link as Link) : undefined;
}

/** An SDK receiver opened by the driver: its settlement lane, and its deliveries not settled yet. */
interface Opened {
  readonly lane: SettlementLane;
  /** Deliveries handed out and not settled (nor run out) yet. */
  held: number;
  /** The link of the latest of them. */
  link: Link | undefined;
  /** Taken out of the pool: closed once `held` is 0. */
  retired: boolean;
}

/**
 * Receives for the driver (SDK receivers allow one receive call at a time: pooled per queue).
 *
 * A pooled SDK receiver whose link went away (the SDK closes it when a drain goes unanswered for 200 ms; Service
 * Bus detaches idle links; a connection drops) while it holds unsettled deliveries leaves the pool: its next
 * receive would reopen the link under the same name, and SDK 7.9.5 then settles the old deliveries on that name's
 * open receiver, through a delivery of the closed link, unanswered (10 s timeouts, retried: ~45 s, every later
 * dead-letter of the receiver waiting in its lane). Kept closed, its deliveries settle through `$management` by
 * lock token, as the SDK does for a receiver whose link is not open. It is closed once they are all settled.
 */
export class Receiver {
  readonly #idle = new Map<string, ServiceBusReceiver[]>();
  /** Every SDK receiver opened, with the lane of its settlements and what it holds. */
  readonly #receivers = new Map<ServiceBusReceiver, Opened>();
  readonly #streams = new Map<string, MessageStream>();
  /** Per queue: how long its next stream may go without an open link (doubled by each stalled one). */
  readonly #stallMs = new Map<string, number>();
  readonly #isClosed = () => this.closing.aborted;

  constructor(
    private readonly client: ServiceBusClient,
    private readonly prefetch: boolean,
    /** Aborted when the driver closes. */
    private readonly closing: AbortSignal,
    private readonly classify: (error: unknown, operation: string) => QueuekitError,
  ) {}

  /** With `prefetch`, long polls take from a stream per queue (credit: the first `max`); others ask for `max`. */
  async receive(queue: string, options: ReceiveOptions): Promise<Delivery[]> {
    const { closing } = this;
    const linked = linkSignals(options.signal, closing);
    let stream = this.#streams.get(queue);
    if (stream?.stalled) {
      this.#dropStream(queue, stream);
      this.#stallMs.set(
        queue,
        Math.min(STREAM_STALL_MAX_MS, 2 * (this.#stallMs.get(queue) ?? STREAM_STALL_MS)),
      );
      stream = undefined;
    } else if (stream?.opened) this.#stallMs.delete(queue);
    try {
      if (!stream && options.waitMs > 0 && this.prefetch) {
        const stallMs = this.#stallMs.get(queue) ?? STREAM_STALL_MS;
        stream = new MessageStream(this.#newReceiver(queue), options.max, closing, stallMs);
        this.#streams.set(queue, stream);
      }
      if (stream) {
        const { receiver } = stream;
        const taken = await stream.take(options.max, options.waitMs, linked.signal);
        return taken.map((entry) => this.#delivery(receiver, entry.message, options.lockMs, entry));
      }
      const idle = this.#idle.get(queue) ?? [];
      this.#idle.set(queue, idle);
      let pooled = idle.pop();
      while (pooled && this.#linkGone(pooled)) {
        this.#retire(pooled);
        pooled = idle.pop();
      }
      const receiver = pooled ?? this.#newReceiver(queue);
      try {
        const messages = await receiver.receiveMessages(Math.max(1, options.max), {
          maxWaitTimeInMs: Math.max(0, options.waitMs),
          abortSignal: linked.signal,
        });
        return messages.map((message) => this.#delivery(receiver, message, options.lockMs));
      } finally {
        // Its link may have gone during the receive (with the messages it brought): then it leaves the pool.
        if (!closing.aborted) {
          if (this.#linkGone(receiver)) this.#retire(receiver);
          else idle.push(receiver);
        }
      }
    } catch (error) {
      if ((error as { name?: string } | null)?.name === 'AbortError' || closing.aborted) return [];
      if (stream) {
        // The stream's link or connection failed (after a reset the SDK's recovery sometimes left it without
        // messages for good): the next receive opens a fresh one.
        this.#dropStream(queue, stream);
      }
      throw this.classify(error, `receive from ${queue}`);
    } finally {
      linked.dispose();
    }
  }

  /**
   * Out of use; the messages it handed out still settle on its receiver. A receiver whose link never opened
   * handed out none: closed (its link's pending attach with it).
   */
  #dropStream(queue: string, stream: MessageStream): void {
    if (this.#streams.get(queue) === stream) this.#streams.delete(queue);
    const closed = stream.close(true);
    if (!stream.opened && this.#receivers.delete(stream.receiver))
      void closed.then(() => stream.receiver.close()).catch(() => undefined);
  }

  /** A peek-lock receiver without the SDK's lock renewal (the core drives renewals). */
  #newReceiver(queue: string): ServiceBusReceiver {
    const options = { maxAutoLockRenewalDurationInMs: 0, skipParsingBodyAsJson: true };
    const receiver = withoutBatchWait(this.client.createReceiver(queue, options));
    this.#receivers.set(receiver, { lane: new SettlementLane(), held: 0, link: undefined, retired: false });
    return receiver;
  }

  /** Whether `receiver` holds unsettled deliveries of a link that is not open any more. */
  #linkGone(receiver: ServiceBusReceiver): boolean {
    const opened = this.#receivers.get(receiver);
    return opened !== undefined && opened.held > 0 && opened.link !== undefined && !opened.link.is_open();
  }

  /** Out of the pool for good; closed once its deliveries are settled. */
  #retire(receiver: ServiceBusReceiver): void {
    const opened = this.#receivers.get(receiver);
    if (!opened) return;
    opened.retired = true;
    if (opened.held === 0) this.#closeRetired(receiver);
  }

  #closeRetired(receiver: ServiceBusReceiver): void {
    this.#receivers.delete(receiver);
    void receiver.close().catch(() => undefined);
  }

  #delivery(
    receiver: ServiceBusReceiver,
    message: ServiceBusReceivedMessage,
    lockMs: number,
    prefetched?: Prefetched,
  ): Delivery {
    const { closing } = this;
    const brokerUntil = message.lockedUntilUtc?.getTime() ?? Date.now() + lockMs;
    let settlement: Settlement | undefined;
    const keeper =
      prefetched?.keeper ??
      new LockKeeper(
        () => receiver.renewMessageLock(message),
        brokerUntil,
        lockMs,
        closing,
        () => settlement?.expire(),
      );
    prefetched?.keeper.reset(lockMs);
    const opened = this.#receivers.get(receiver) as Opened;
    let done: (() => void) | undefined;
    if (!prefetched) {
      // Counted until settled or run out: a receiver whose link went away is closed once it holds none.
      opened.held++;
      opened.link = linkOf(message) ?? opened.link;
      done = () => {
        opened.held--;
        if (opened.retired && opened.held === 0 && !closing.aborted) this.#closeRetired(receiver);
      };
    }
    settlement = new Settlement(receiver, opened.lane, message, keeper, prefetched, done);
    // The kit's own delivery, its calls untouched: the core's guard passes it through without a wrapper.
    return createDelivery({
      message: toReceivedMessage(message),
      lockedUntil: keeper.heldUntil,
      ...(message.lockToken ? { deliveryToken: message.lockToken } : {}),
      provider: 'servicebus',
      classify: this.classify,
      isClosed: this.#isClosed,
      operations: settlement,
    });
  }

  /** Every stream's messages let go; renewals stop as their timers see the driver closed. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#streams.values()].map((stream) => stream.close()));
    await Promise.allSettled([...this.#receivers.keys()].map((receiver) => receiver.close()));
    this.#streams.clear();
    this.#receivers.clear();
    this.#idle.clear();
  }
}
