import { type Delivery, linkSignals, type ReceiveOptions } from '@queuekit/core';
import { createDelivery, Wakeup } from '@queuekit/core/driver-kit';
import type { QueueHandle, Subscription } from './admin.js';
import { call, classifyError } from './errors.js';
import { CALL, MAX_ACK_DEADLINE_SECONDS } from './options.js';
import {
  A,
  copyOf,
  deadLetterCopy,
  deliverAtOf,
  type PulledMessage,
  received,
  receivedDeadLetter,
} from './wire.js';

/** What a {@link QueueReceiver} shares with its driver. */
export interface ReceiverContext extends QueueHandle {
  readonly pollIntervalMs: number;
  /**
   * The queue is a dead-letter subscription (`deadLetterQueue.queueOf`): no delays to honour, messages
   * read as dead letters, and, as Pub/Sub does not count its deliveries, let go with `defer`.
   */
  readonly deadLetters: boolean;
  /** Fires when the driver closes. */
  readonly closed: AbortSignal;
  /** Keep a background promise (normalising a delayed message) so `close()` can wait for it. */
  track(work: Promise<unknown>): void;
}

/** A pulled message under this driver's lease. */
interface Lease {
  readonly source: Subscription;
  readonly pulled: PulledMessage;
  readonly ackId: string;
  readonly messageId: string;
  readonly orderingKey: string | undefined;
  lockedUntil: number;
}

/** What a receiver remembers of its last pull of a subscription. */
interface PullState {
  warm: boolean;
  pulledAt: number;
}

/** Seconds for an ack deadline of at least `ms` (Pub/Sub counts whole seconds, at most 600). */
function deadlineSeconds(ms: number, min = 1): number {
  return Math.min(MAX_ACK_DEADLINE_SECONDS, Math.max(min, Math.ceil(ms / 1000)));
}

/**
 * Pause after the first empty pull, in ms; it doubles with each empty pull in a row, up to `pollIntervalMs`.
 * A consumer that just had messages looks again soon; an idle one settles at one pull per `pollIntervalMs`.
 */
const FIRST_PAUSE_MS = 5;
const MAX_COMPENSATIONS = 10_000;
/** Ordering keys tracked before those whose lock ran out are dropped. */
const MAX_ACTIVE_KEYS = 1000;

/**
 * The consuming side of one queue: synchronous pulls (`returnImmediately`, never cancelled) of at
 * most the core's free slots, the driver's delay (park or normalise), per-key gating for ordering
 * keys, and the settle operations of each delivery (settle once and lock expiry by the kit).
 */
export class QueueReceiver {
  /** The lease (then delivery) in the core's hands per ordering key; the key is busy while its lock holds. */
  readonly #active = new Map<string, { readonly lockedUntil?: number | undefined }>();
  /** Later messages of an active key, pulled in the same batch, waiting their turn (in order). */
  readonly #held = new Map<string, Lease[]>();
  readonly #wakeup = new Wakeup();
  /**
   * Deliveries the core never saw, per Pub/Sub message id (followers nacked when their
   * predecessor was released). Subtracted from `deliveryAttempt` so the count stays honest.
   */
  readonly #compensation = new Map<string, number>();
  #turn = false;
  /** Per subscription: whether its last pull brought messages, and when it was made. */
  readonly #pulls = new Map<Subscription, PullState>();
  /** Pause after the next empty pull (see {@link FIRST_PAUSE_MS}). */
  #pauseMs = FIRST_PAUSE_MS;

  constructor(private readonly ctx: ReceiverContext) {}

  /** Take up to `max` messages under a lock of `lockMs`, waiting up to `waitMs`. */
  async receive({ max, lockMs, waitMs, signal: stop }: ReceiveOptions): Promise<Delivery[]> {
    const { signal, dispose } = linkSignals(stop, this.ctx.closed);
    const lockSeconds = deadlineSeconds(lockMs);
    const deadline = Date.now() + waitMs;
    try {
      return await this.#receive(max, lockSeconds, deadline, signal);
    } finally {
      dispose();
    }
  }

  async #receive(max: number, lockSeconds: number, deadline: number, signal: AbortSignal) {
    for (;;) {
      const since = this.#wakeup.generation;
      if (this.#active.size > MAX_ACTIVE_KEYS) for (const key of this.#active.keys()) this.#locked(key);
      const out = this.#takeHeld(max);
      // Held followers were locked by an earlier receive; pulled ones only hold the subscription's deadline.
      const relock = [...out];
      const followers: Lease[] = [];
      let pulledCount = 0;
      const held = [...this.#held.values()].reduce((count, list) => count + list.length, 0);
      const room = max - out.length - held;
      // Held followers in hand go out first; a pull now would hold them back one round trip.
      if (room > 0 && !signal.aborted && out.length === 0) {
        const pulledAt = Date.now();
        for (const [source, pulled] of await this.#pullRoom(room)) {
          pulledCount += pulled.length;
          for (const message of pulled) {
            const lease = this.#sort(source, message, pulledAt);
            if (lease === undefined) continue;
            if (lease.orderingKey !== undefined && this.#busy(lease.orderingKey)) {
              this.#hold(lease.orderingKey, lease);
              followers.push(lease);
            } else {
              if (lease.orderingKey !== undefined) this.#active.set(lease.orderingKey, lease);
              out.push(lease);
              if (source.ackDeadlineSeconds !== lockSeconds) relock.push(lease);
            }
          }
        }
      }
      await this.#lock([...relock, ...followers], lockSeconds);
      if (pulledCount > 0) this.#pauseMs = FIRST_PAUSE_MS;
      if (out.length > 0) return out.map((lease) => this.#delivery(lease));
      const left = deadline - Date.now();
      if (signal.aborted || left <= 0) return [];
      // A full pull of delayed messages: pull again at once; an empty one: wait a little.
      if (pulledCount === 0) {
        const pause = Math.min(this.#pauseMs, this.ctx.pollIntervalMs, left);
        this.#pauseMs = Math.min(this.#pauseMs * 2, this.ctx.pollIntervalMs);
        await this.#wakeup.wait(pause, signal, since);
      }
    }
  }

  /**
   * Pull at most `room` messages from the queue's subscriptions (the ordered one only with `messageOrdering`).
   * One that brought messages at its last pull is warm. Both cold (an idle queue, an empty priority band):
   * both are pulled at once, the unordered one for `room`, the ordered one for one message, so an empty
   * queue costs one round trip, not two; should both bring messages (more than `room`), the ordered one is
   * handed back at once (see {@link QueueReceiver.#giveBack}). Otherwise one at a time: a warm one first (both warm:
   * they take turns), a cold one first once `pollIntervalMs` has passed since its last pull, so it is never
   * starved by a backlog on the other; the second only when the first brought nothing.
   */
  async #pullRoom(room: number): Promise<[Subscription, PulledMessage[]][]> {
    const { main, ordered } = this.ctx.subscriptions;
    if (!ordered) return [[main, await this.#pull(main, room)]];
    const mainState = this.#state(main);
    const orderedState = this.#state(ordered);
    if (!mainState.warm && !orderedState.warm && room >= 2) {
      const [fromMain, fromOrdered] = await Promise.allSettled([
        this.#pull(main, room),
        this.#pull(ordered, 1),
      ]);
      const got: [Subscription, PulledMessage[]][] = [];
      if (fromMain.status === 'fulfilled') got.push([main, fromMain.value]);
      if (fromOrdered.status === 'fulfilled') {
        const extra =
          fromMain.status === 'fulfilled' ? fromMain.value.length + fromOrdered.value.length - room : 0;
        got.push([
          ordered,
          extra > 0 ? this.#giveBack(ordered, fromOrdered.value, extra) : fromOrdered.value,
        ]);
      }
      // Messages of a pull that succeeded are ours (leased): handed over even when the other pull failed.
      if (got.some(([, pulled]) => pulled.length > 0)) return got;
      const failed = [fromMain, fromOrdered].find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      return got;
    }
    const now = Date.now();
    const due = (state: PullState) => now - state.pulledAt >= this.ctx.pollIntervalMs;
    if (mainState.warm === orderedState.warm) this.#turn = !this.#turn;
    else this.#turn = mainState.warm ? due(orderedState) : !due(mainState);
    const orderedFirst = this.#turn;
    const [first, second] = orderedFirst ? [ordered, main] : [main, ordered];
    const pulled = await this.#pull(first, room);
    return pulled.length > 0 ? [[first, pulled]] : [[second, await this.#pull(second, room)]];
  }

  #state(source: Subscription): PullState {
    const known = this.#pulls.get(source);
    if (known) return known;
    const state = { warm: false, pulledAt: 0 };
    this.#pulls.set(source, state);
    return state;
  }

  /**
   * Hand the last `count` of `pulled` back to Pub/Sub at once (a nack) and return the rest. They never reached
   * the core, so their next `deliveryAttempt` is compensated, as for held followers.
   */
  #giveBack(source: Subscription, pulled: PulledMessage[], count: number): PulledMessage[] {
    const back = pulled.slice(pulled.length - count);
    for (const message of back) this.#compensate(message.message?.messageId ?? '');
    const ackIds = back.map((message) => message.ackId ?? '');
    this.ctx.track(this.ctx.clients.requests.modAck(source.name, ackIds, 0).catch(() => undefined));
    return pulled.slice(0, pulled.length - count);
  }

  async #pull(source: Subscription, max: number): Promise<PulledMessage[]> {
    const request = { subscription: source.name, maxMessages: Math.min(max, 1000), returnImmediately: true };
    const state = this.#state(source);
    state.pulledAt = Date.now();
    const [response] = await call('pull', () => this.ctx.clients.subscriber.pull(request, CALL));
    const pulled = response.receivedMessages ?? [];
    state.warm = pulled.length > 0;
    return pulled;
  }

  /** A pulled message as a lease, or undefined when it is early (parked) or due after a delay (normalised). */
  #sort(source: Subscription, message: PulledMessage, now: number): Lease | undefined {
    if (!this.ctx.deadLetters && message.message?.attributes?.[A.deliverAt] !== undefined) {
      this.#delayed(source, message, now);
      return undefined;
    }
    return {
      source,
      pulled: message,
      ackId: message.ackId ?? '',
      messageId: message.message?.messageId ?? '',
      // Only the ordered subscription's keys take turns.
      orderingKey:
        source === this.ctx.subscriptions.ordered ? message.message?.orderingKey || undefined : undefined,
      lockedUntil: now + source.ackDeadlineSeconds * 1000,
    };
  }

  /**
   * A delayed message: hidden with its ack deadline until its time, never handed to the core early. Once
   * due, a copy without the delay attribute is published and the original acked: the copy's
   * `deliveryAttempt` starts at 1, so the core's count only includes deliveries it saw.
   */
  #delayed(source: Subscription, message: PulledMessage, now: number): void {
    const { requests } = this.ctx.clients;
    const original = message.message ?? {};
    const ackId = message.ackId ?? '';
    // Malformed or too far ahead (not written by this driver): due now, never parked for years.
    const wait = (deliverAtOf(original.attributes ?? {}, now) ?? now) - now;
    // Keyed messages go through the ordered sibling topic (see `send`).
    const { resources, subscriptions } = this.ctx;
    const topic = original.orderingKey && subscriptions.ordered ? resources.orderedTopic : resources.topic;
    const work =
      wait > 0
        ? requests.modAck(source.name, [ackId], deadlineSeconds(wait))
        : requests.publishAll(topic, [copyOf(original)]).then(() => requests.ack(source.name, ackId));
    this.ctx.track(work.catch(() => undefined));
  }

  /** Whether `key` has a delivery in the core's hands whose lock still holds. */
  #locked(key: string, now = Date.now()): boolean {
    const active = this.#active.get(key);
    if ((active?.lockedUntil ?? 0) > now) return true;
    // Expired without a settlement the broker saw (a settle after expiry never reaches it).
    if (active !== undefined) this.#active.delete(key);
    return false;
  }

  /** Whether a message of `key` must wait: its key is locked or has followers waiting. */
  #busy(key: string): boolean {
    return this.#locked(key) || (this.#held.get(key)?.length ?? 0) > 0;
  }

  #hold(key: string, lease: Lease): void {
    const list = this.#held.get(key) ?? [];
    const same = list.findIndex((other) => other.messageId === lease.messageId);
    if (same >= 0) list[same] = lease;
    else list.push(lease);
    this.#held.set(key, list);
  }

  /** Followers whose key is free again, oldest first, one per key. */
  #takeHeld(max: number): Lease[] {
    const out: Lease[] = [];
    const now = Date.now();
    for (const [key, list] of this.#held) {
      if (out.length >= max) break;
      if (this.#locked(key, now)) continue;
      while (list.length > 0 && (list[0]?.lockedUntil ?? 0) <= now) list.shift();
      const next = list.shift();
      if (list.length === 0) this.#held.delete(key);
      if (!next) continue;
      this.#active.set(key, next);
      out.push(next);
    }
    return out;
  }

  /** Give `leases` the consumer's lock, one request per subscription. */
  async #lock(leases: readonly Lease[], lockSeconds: number): Promise<void> {
    if (leases.length === 0) return;
    const start = Date.now();
    const { requests } = this.ctx.clients;
    const ackIds = (source: Subscription) => leases.filter((l) => l.source === source).map((l) => l.ackId);
    const sources = [...new Set(leases.map((lease) => lease.source))];
    await Promise.all(sources.map((source) => requests.modAck(source.name, ackIds(source), lockSeconds)));
    for (const lease of leases) lease.lockedUntil = start + lockSeconds * 1000;
  }

  /**
   * Detach the held followers of `key` so they can be handed back to Pub/Sub together with
   * their released predecessor (same deadline, one request, in order). They never reached the
   * core, so their next `deliveryAttempt` is compensated.
   */
  #detachFollowers(key: string | undefined): Lease[] {
    if (key === undefined) return [];
    const followers = this.#held.get(key) ?? [];
    this.#held.delete(key);
    for (const { messageId } of followers) this.#compensate(messageId);
    return followers;
  }

  /** Count one delivery of `messageId` that the core never saw (subtracted from its next `deliveryAttempt`). */
  #compensate(messageId: string): void {
    if (!messageId) return;
    this.#compensation.set(messageId, (this.#compensation.get(messageId) ?? 0) + 1);
    const oldest = this.#compensation.keys().next().value;
    if (this.#compensation.size > MAX_COMPENSATIONS && oldest !== undefined)
      this.#compensation.delete(oldest);
  }

  #deliveryCount(lease: Lease): number {
    const attempt = lease.pulled.deliveryAttempt ?? 0;
    if (attempt <= 0) return 1;
    return Math.max(1, attempt - (this.#compensation.get(lease.messageId) ?? 0));
  }

  #delivery(lease: Lease): Delivery {
    const { source, ackId, orderingKey: key, messageId } = lease;
    const { requests } = this.ctx.clients;
    // Every settlement ends the key's turn, whatever the broker answers.
    const settling = async (work: () => Promise<void>) => {
      try {
        await work();
      } finally {
        if (key !== undefined && this.#active.get(key) === delivery) this.#active.delete(key);
        this.#wakeup.wake();
      }
    };
    const acked = async () => {
      await requests.ack(source.name, ackId);
      this.#compensation.delete(messageId);
    };
    const delivery = createDelivery({
      message: this.ctx.deadLetters
        ? receivedDeadLetter(lease.pulled, source.maxDeliveryAttempts)
        : { ...received(lease.pulled), deliveryCount: this.#deliveryCount(lease) },
      lockedUntil: lease.lockedUntil,
      provider: 'pubsub',
      classify: classifyError,
      isClosed: () => this.ctx.closed.aborted,
      operations: {
        ack: () => settling(acked),
        deadLetter: (info) =>
          settling(async () => {
            const copy = deadLetterCopy(lease.pulled.message ?? {}, info);
            await requests.publishAll(this.ctx.resources.deadLetterTopic, [copy]);
            await acked();
          }),
        extendLock: async (ms) => {
          const seconds = deadlineSeconds(ms);
          const followers = key === undefined ? [] : (this.#held.get(key) ?? []);
          const start = Date.now();
          await requests.modAck(source.name, [ackId, ...followers.map((f) => f.ackId)], seconds);
          for (const follower of followers) follower.lockedUntil = start + seconds * 1000;
          return start + seconds * 1000;
        },
        // Only a counted delivery may be retried in place (its `deliveryAttempt` counts the retry).
        ...((lease.pulled.deliveryAttempt ?? 0) > 0
          ? {
              release: (delayMs: number) =>
                settling(async () => {
                  const ackIds = [ackId, ...this.#detachFollowers(key).map((f) => f.ackId)];
                  await requests.modAck(source.name, ackIds, deadlineSeconds(delayMs, 0));
                }),
            }
          : {
              // Not counted, so handing it back does not count a delivery either.
              defer: (delayMs: number) =>
                settling(() => requests.modAck(source.name, [ackId], deadlineSeconds(delayMs, 0))),
            }),
      },
    });
    if (key !== undefined) this.#active.set(key, delivery);
    return delivery;
  }
}
