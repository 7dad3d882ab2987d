import { Heap } from './heap.js';
import type { StoredMessage } from './state.js';

interface Entry {
  readonly key: string;
  readonly message: StoredMessage;
  /** When it becomes ready: its visibility time, or the expiry of its lock. */
  readonly at: number;
  readonly pending: boolean;
}

interface Link {
  readonly key: string;
  readonly message: StoredMessage;
}

const bestFirst = (a: Entry, b: Entry) =>
  a.message.priority > b.message.priority ||
  (a.message.priority === b.message.priority && a.message.seq < b.message.seq);
const soonestFirst = (a: Entry, b: Entry) => a.at < b.at;
/** Superseded entries tolerated in a heap beyond twice its live ones before it is swept. */
const SWEEP_SLACK = 1024;

/**
 * Which messages of one queue go out next, without scanning the queue: a heap of the ready ones (best
 * priority, then oldest), a heap of those that become ready at a time (delayed, or locked until the lock
 * expires), and per ordering key its messages in send order (only the oldest is scheduled at all).
 * A message has at most one live entry; entries a later change superseded are skipped when met and
 * swept once they outnumber the live ones.
 */
export class Schedule {
  private readonly ready = new Heap<Entry>(bestFirst);
  private readonly pending = new Heap<Entry>(soonestFirst);
  private readonly live = new Map<string, Entry>();
  private readonly chains = new Map<string, Link[]>();
  private readyLive = 0;
  private pendingLive = 0;

  /** A message just stored under `key`. */
  add(key: string, message: StoredMessage, now: number): void {
    const orderingKey = message.orderingKey;
    if (orderingKey !== undefined) {
      const chain = this.chains.get(orderingKey);
      if (chain) {
        chain.push({ key, message });
        return;
      }
      this.chains.set(orderingKey, [{ key, message }]);
    }
    this.place(key, message, now);
  }

  /** After the lock or visibility of `key` changed (release, extend). */
  update(key: string, message: StoredMessage, now: number): void {
    if (this.live.has(key)) this.place(key, message, now);
  }

  /** A message removed from the queue (acked, dead-lettered, replaced by its copy). */
  remove(key: string, message: StoredMessage, now: number): void {
    this.unlink(key);
    const orderingKey = message.orderingKey;
    if (orderingKey === undefined) return;
    const chain = this.chains.get(orderingKey);
    const index = chain?.findIndex((link) => link.key === key) ?? -1;
    if (!chain || index < 0) return;
    chain.splice(index, 1);
    const next = chain[0];
    if (!next) this.chains.delete(orderingKey);
    else if (index === 0) this.place(next.key, next.message, now);
  }

  /** Up to `max` ready messages, best first; `lock` locks each, which is then scheduled by its lock's expiry. */
  take(max: number, now: number, lock: (key: string, message: StoredMessage) => void): void {
    this.promote(now);
    let taken = 0;
    while (taken < max) {
      const entry = this.ready.pop();
      if (!entry) break;
      if (this.live.get(entry.key) !== entry) continue;
      this.unlink(entry.key);
      lock(entry.key, entry.message);
      this.place(entry.key, entry.message, now);
      taken++;
    }
  }

  /** When the next delayed message becomes visible or the next lock expires (Infinity: never). */
  nextAt(): number {
    for (;;) {
      const top = this.pending.peek();
      if (!top) return Number.POSITIVE_INFINITY;
      if (this.live.get(top.key) === top) return top.at;
      this.pending.pop();
    }
  }

  private promote(now: number): void {
    for (;;) {
      const top = this.pending.peek();
      if (!top || top.at > now) return;
      this.pending.pop();
      if (this.live.get(top.key) === top) this.place(top.key, top.message, now);
    }
  }

  private place(key: string, message: StoredMessage, now: number): void {
    this.unlink(key);
    const locked = message.lockToken !== undefined && message.lockedUntil > now;
    const at = locked ? message.lockedUntil : message.visibleAt;
    const entry: Entry = { key, message, at, pending: at > now };
    this.live.set(key, entry);
    if (entry.pending) {
      this.pending.push(entry);
      this.pendingLive++;
    } else {
      this.ready.push(entry);
      this.readyLive++;
    }
    this.sweep();
  }

  private unlink(key: string): void {
    const entry = this.live.get(key);
    if (!entry) return;
    this.live.delete(key);
    if (entry.pending) this.pendingLive--;
    else this.readyLive--;
  }

  private sweep(): void {
    const isLive = (entry: Entry) => this.live.get(entry.key) === entry;
    if (this.pending.size > SWEEP_SLACK + 2 * this.pendingLive) this.pending.retain(isLive);
    if (this.ready.size > SWEEP_SLACK + 2 * this.readyLive) this.ready.retain(isLive);
  }
}
