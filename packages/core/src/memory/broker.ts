import { randomUUID } from 'node:crypto';
import type { DeadLetterInfo, DeliveryRef, OutgoingMessage } from '../driver.js';
import { Wakeup } from '../driver-kit/wait.js';
import { safeTimeout } from '../timers.js';
import { ReadyIndex } from './ready-index.js';
import type { QueueState, StoredDeadLetter, StoredMessage } from './state.js';

export type { StoredDeadLetter, StoredMessage } from './state.js';

/**
 * The state of an in-memory "server": queues, locks, delays and dead letters. Several drivers
 * (connections) may share one broker, which is how tests simulate a crashed worker.
 */
export class MemoryBroker {
  private readonly queues = new Map<string, QueueState>();
  /** Lock tokens of deliveries a copy replaced (see `replace`): their ack resolves once. */
  private readonly replaced = new Set<string>();
  private seq = 0;
  /** Lock tokens: a random prefix per broker and a counter (unguessable, without a UUID per delivery). */
  private readonly tokenPrefix = `${randomUUID()}-`;
  private tokens = 0;

  constructor(readonly dedupWindowMs = 5 * 60_000) {}

  private state(queue: string): QueueState {
    let state = this.queues.get(queue);
    if (!state) {
      const messages = new Map<string, StoredMessage>();
      state = {
        messages,
        index: new ReadyIndex(messages),
        deadLetters: [],
        dedup: new Map(),
        wakeup: new Wakeup(),
        timer: undefined,
        timerAt: 0,
      };
      this.queues.set(queue, state);
    }
    return state;
  }

  /** Store a message; returns false when dropped as a duplicate. */
  enqueue(queue: string, message: OutgoingMessage, now = Date.now()): boolean {
    const state = this.state(queue);
    if (message.dedup) {
      const until = state.dedup.get(message.id);
      if ((until !== undefined && until > now) || state.messages.has(message.id)) return false;
      state.dedup.set(message.id, now + this.dedupWindowMs);
    }
    const key = state.messages.has(message.id) ? `${message.id}#${randomUUID()}` : message.id;
    const stored: StoredMessage = {
      id: message.id,
      name: message.name,
      body: message.body,
      headers: { ...message.headers },
      priority: message.priority ?? 0,
      orderingKey: message.orderingKey,
      seq: ++this.seq,
      enqueuedAt: new Date(now),
      visibleAt: now + (message.delayMs ?? 0),
      deliveryCount: 0,
      lockToken: undefined,
      lockedUntil: 0,
      stamp: 0,
    };
    state.messages.set(key, stored);
    state.index.added(key, stored, now);
    this.wake(queue);
    return true;
  }

  /** Lock and return up to `max` available messages, best priority then oldest first. */
  take(
    queue: string,
    max: number,
    lockMs: number,
    now = Date.now(),
  ): { key: string; message: StoredMessage; token: string }[] {
    const state = this.state(queue);
    const out: { key: string; message: StoredMessage; token: string }[] = [];
    for (const { key, message } of state.index.take(max, now)) {
      const token = `${this.tokenPrefix}${++this.tokens}`;
      message.lockToken = token;
      message.lockedUntil = now + lockMs;
      message.deliveryCount += 1;
      state.index.locked(key, message);
      out.push({ key, message, token });
    }
    this.armTimer(queue, now);
    return out;
  }

  private owned(queue: string, key: string, token: string, now = Date.now()): StoredMessage | undefined {
    const message = this.state(queue).messages.get(key);
    if (!message || message.lockToken !== token || message.lockedUntil <= now) return undefined;
    return message;
  }

  /**
   * Store `message` in place of the delivery `copyOf` names, if its lock is still held: the original goes,
   * and the later ack of that delivery resolves. Otherwise it is stored as a new message.
   */
  replace(queue: string, message: OutgoingMessage, copyOf: DeliveryRef, now = Date.now()): boolean {
    const origin = this.state(copyOf.queue);
    const token = copyOf.deliveryToken;
    const key = token === undefined ? undefined : heldKey(origin.messages, copyOf.id, token, now);
    const held = key === undefined ? undefined : origin.messages.get(key);
    if (key !== undefined && held && token !== undefined) {
      origin.messages.delete(key);
      origin.index.removed(held, now);
      this.replaced.add(token);
    }
    return this.enqueue(queue, message, now);
  }

  /** Remove a locked message; false when the lock is not (or no longer) held by `token`. */
  ack(queue: string, key: string, token: string): boolean {
    if (this.replaced.delete(token)) return true;
    const message = this.owned(queue, key, token);
    if (!message) return false;
    const state = this.state(queue);
    state.messages.delete(key);
    state.index.removed(message, Date.now());
    this.wake(queue);
    return true;
  }

  /**
   * Unlock a message, visible again after `delayMs`; false when the lock is not held. With
   * `countDelivery: false` (a defer), the delivery it was locked for is not counted.
   */
  release(
    queue: string,
    key: string,
    token: string,
    delayMs: number,
    { countDelivery = true }: { countDelivery?: boolean } = {},
    now = Date.now(),
  ): boolean {
    const message = this.owned(queue, key, token, now);
    if (!message) return false;
    if (!countDelivery) message.deliveryCount = Math.max(0, message.deliveryCount - 1);
    message.lockToken = undefined;
    message.visibleAt = now + delayMs;
    this.state(queue).index.unlocked(key, message, now);
    this.wake(queue);
    return true;
  }

  /** Extend a held lock to `ms` from now; false when the lock is not held. */
  extend(queue: string, key: string, token: string, ms: number, now = Date.now()): boolean {
    const message = this.owned(queue, key, token, now);
    if (!message) return false;
    message.lockedUntil = now + ms;
    this.state(queue).index.locked(key, message);
    return true;
  }

  /** Move a locked message to the dead letters with `info`; false when the lock is not held. */
  deadLetter(queue: string, key: string, token: string, info: DeadLetterInfo): boolean {
    const state = this.state(queue);
    const message = this.owned(queue, key, token);
    if (!message) return false;
    state.messages.delete(key);
    state.index.removed(message, Date.now());
    state.deadLetters.push({ message, ...info, deadLetteredAt: new Date() });
    this.wake(queue);
    return true;
  }

  /** Oldest first, at most `limit`. */
  listDeadLetters(queue: string, limit: number): readonly StoredDeadLetter[] {
    return this.state(queue).deadLetters.slice(0, limit);
  }

  redrive(
    queue: string,
    ids: readonly string[] | undefined,
    headers: Readonly<Record<string, string>>,
  ): number {
    const state = this.state(queue);
    const wanted = ids ? new Set(ids) : undefined;
    const keep: StoredDeadLetter[] = [];
    let moved = 0;
    for (const entry of state.deadLetters) {
      if (wanted && !wanted.has(entry.message.id)) {
        keep.push(entry);
        continue;
      }
      const { message } = entry;
      this.enqueue(queue, {
        id: message.id,
        name: message.name,
        body: message.body,
        headers: { ...message.headers, ...headers },
        priority: message.priority,
        ...(message.orderingKey === undefined ? {} : { orderingKey: message.orderingKey }),
      });
      moved++;
    }
    state.deadLetters.splice(0, state.deadLetters.length, ...keep);
    return moved;
  }

  /** Delete every dead letter of `queue`; returns how many. */
  purgeDeadLetters(queue: string): number {
    const state = this.state(queue);
    const count = state.deadLetters.length;
    state.deadLetters.length = 0;
    return count;
  }

  counts(
    queue: string,
    now = Date.now(),
  ): { waiting: number; delayed: number; active: number; deadLettered: number } {
    const state = this.state(queue);
    let waiting = 0;
    let delayed = 0;
    let active = 0;
    for (const message of state.messages.values()) {
      if (message.lockToken !== undefined && message.lockedUntil > now) active++;
      else if (message.visibleAt > now) delayed++;
      else waiting++;
    }
    return { waiting, delayed, active, deadLettered: state.deadLetters.length };
  }

  /** Up to `limit` messages not locked, in delivery order, untouched. */
  peek(queue: string, limit: number, now = Date.now()): StoredMessage[] {
    return [...this.state(queue).messages.values()]
      .filter((m) => !(m.lockToken !== undefined && m.lockedUntil > now))
      .sort((a, b) => b.priority - a.priority || a.seq - b.seq)
      .slice(0, limit);
  }

  /** Drop `queue` and its dead letters. */
  deleteQueue(queue: string): void {
    const state = this.queues.get(queue);
    if (!state) return;
    state.timer?.clear();
    state.index.clear();
    this.wake(queue);
    this.queues.delete(queue);
  }

  /** Resolve when something may have become available in `queue`, or after `ms`. */
  async waitFor(queue: string, ms: number, signal: AbortSignal): Promise<void> {
    const waiting = this.state(queue).wakeup.wait(ms, signal);
    this.armTimer(queue);
    await waiting;
  }

  private wake(queue: string): void {
    this.queues.get(queue)?.wakeup.wake();
  }

  /** Wake waiters when the next delayed message becomes visible or the next lock expires. */
  private armTimer(queue: string, now = Date.now()): void {
    const state = this.state(queue);
    if (state.wakeup.waiting === 0) return;
    const next = state.index.nextEventAt();
    if (next === undefined || (state.timer && state.timerAt <= next && state.timerAt > now)) return;
    state.timer?.clear();
    state.timerAt = next;
    state.timer = safeTimeout(
      () => {
        state.timer = undefined;
        this.wake(queue);
      },
      Math.max(1, next - now + 1),
    ).unref();
  }
}

/** The key of the message `id` locked by `token`, if that lock still holds. */
function heldKey(messages: ReadonlyMap<string, StoredMessage>, id: string, token: string, now: number) {
  for (const [key, held] of messages)
    if (held.id === id && held.lockToken === token && held.lockedUntil > now) return key;
  return undefined;
}
