import { Heap } from './heap.js';
import { ReadyQueue } from './ready-queue.js';
import type { StoredMessage } from './state.js';

/** Stale entries tolerated beyond twice the queue's messages before a sweep. */
const SWEEP_SLACK = 1024;

interface Entry {
  readonly key: string;
  readonly message: StoredMessage;
  /** The message's `stamp` when the entry was made: a later change makes the entry stale. */
  readonly stamp: number;
  /** For the timed heaps: when the entry is due. */
  readonly at: number;
}

/**
 * What a queue can hand out, without scanning it: the ready messages (best priority, then oldest: a
 * {@link ReadyQueue}), a heap of the delayed ones by when they show, a heap of the locked ones by when their lock
 * runs out. Entries are never removed, only made stale (the message changed or left): each is checked
 * when it comes out. Messages sharing an ordering key go out one at a time in send order, so only the
 * oldest of a key (its head) is ever ready.
 */
export class ReadyIndex {
  readonly #ready = new ReadyQueue<Entry>();
  readonly #delayed = new Heap<Entry>((a, b) => a.at < b.at);
  readonly #locked = new Heap<Entry>((a, b) => a.at < b.at);
  /** Messages of each ordering key, oldest first. */
  readonly #keys = new Map<string, { key: string; message: StoredMessage }[]>();
  #stamp = 0;
  /** Messages whose latest change was a lock: the live entries of the locked heap are at most this many. */
  #lockedCount = 0;

  constructor(private readonly messages: ReadonlyMap<string, StoredMessage>) {}

  /** A message just stored. */
  added(key: string, message: StoredMessage, now: number): void {
    if (message.orderingKey !== undefined) {
      const group = this.#keys.get(message.orderingKey) ?? [];
      group.push({ key, message });
      this.#keys.set(message.orderingKey, group);
    }
    this.unlocked(key, message, now);
  }

  /** A message visible again (or later, at `visibleAt`) and not locked. */
  unlocked(key: string, message: StoredMessage, now: number): void {
    this.uncount(message);
    const stamp = this.touch(message);
    if (message.visibleAt > now) {
      this.#delayed.push({ key, message, stamp, at: message.visibleAt });
      this.sweep(this.#delayed);
    } else if (this.isHead(message)) this.#ready.push({ key, message, stamp, at: 0 });
  }

  /** A message just locked, or its lock renewed. */
  locked(key: string, message: StoredMessage): void {
    if (!message.counted) {
      message.counted = true;
      this.#lockedCount++;
    }
    this.#locked.push({ key, message, stamp: this.touch(message), at: message.lockedUntil });
    // Acked messages leave their lock entries behind: bounded by the live locks, not by the queue's size,
    // so a big backlog does not keep every acked message alive until its lock end.
    if (this.#locked.size > 2 * this.#lockedCount + SWEEP_SLACK)
      this.#locked.retain((entry) => this.current(entry));
  }

  /** Entries held, stale ones included (tests: they stay bounded by the messages the queue holds). */
  get entries(): number {
    return this.#ready.size + this.#delayed.size + this.#locked.size;
  }

  /** A message that left the queue (acked, dead-lettered, replaced). */
  removed(message: StoredMessage, now: number): void {
    this.uncount(message);
    this.touch(message);
    if (message.orderingKey === undefined) return;
    const group = this.#keys.get(message.orderingKey);
    if (!group) return;
    const at = group.findIndex((entry) => entry.message === message);
    if (at >= 0) group.splice(at, 1);
    if (group.length === 0) this.#keys.delete(message.orderingKey);
    const head = group[0];
    if (at === 0 && head && this.isFree(head.message, now)) this.unlocked(head.key, head.message, now);
  }

  /** Up to `max` messages ready now, in delivery order, taken out of the index (the caller locks them). */
  take(max: number, now: number): { key: string; message: StoredMessage }[] {
    this.due(now);
    const out: { key: string; message: StoredMessage }[] = [];
    while (out.length < max) {
      const entry = this.#ready.pop();
      if (!entry) break;
      if (!this.current(entry) || !this.isFree(entry.message, now) || !this.isHead(entry.message)) continue;
      this.touch(entry.message);
      out.push({ key: entry.key, message: entry.message });
    }
    return out;
  }

  /** When the next delayed message shows or the next lock runs out, if any. */
  nextEventAt(): number | undefined {
    for (const heap of [this.#delayed, this.#locked])
      while (heap.peek() && !this.current(heap.peek() as Entry)) heap.pop();
    const times = [this.#delayed.peek()?.at, this.#locked.peek()?.at].filter((at) => at !== undefined);
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  clear(): void {
    this.#lockedCount = 0;
    this.#ready.clear();
    this.#delayed.clear();
    this.#locked.clear();
    this.#keys.clear();
  }

  /** Move what became visible, and what is no longer locked, to the ready heap. */
  private due(now: number): void {
    for (let entry = this.#delayed.peek(); entry && entry.at <= now; entry = this.#delayed.peek()) {
      this.#delayed.pop();
      if (this.current(entry) && this.isFree(entry.message, now))
        this.unlocked(entry.key, entry.message, now);
    }
    for (let entry = this.#locked.peek(); entry && entry.at <= now; entry = this.#locked.peek()) {
      this.#locked.pop();
      if (this.current(entry) && this.isFree(entry.message, now))
        this.unlocked(entry.key, entry.message, now);
    }
  }

  /**
   * Drop the stale entries of a timed heap once they outnumber the messages: an acked message's lock entry
   * would otherwise stay (holding the message) until its lock end. Amortised O(1) per entry.
   */
  private sweep(heap: Heap<Entry>): void {
    if (heap.size > 2 * this.messages.size + SWEEP_SLACK) heap.retain((entry) => this.current(entry));
  }

  private uncount(message: StoredMessage): void {
    if (!message.counted) return;
    message.counted = false;
    this.#lockedCount--;
  }

  private touch(message: StoredMessage): number {
    message.stamp = ++this.#stamp;
    return message.stamp;
  }

  /** Every change of a message, its leaving included (`removed`, `clear`), bumps its stamp: no map lookup. */
  private current(entry: Entry): boolean {
    return entry.message.stamp === entry.stamp;
  }

  private isFree(message: StoredMessage, now: number): boolean {
    return !(message.lockToken !== undefined && message.lockedUntil > now) && message.visibleAt <= now;
  }

  private isHead(message: StoredMessage): boolean {
    return message.orderingKey === undefined || this.#keys.get(message.orderingKey)?.[0]?.message === message;
  }
}
