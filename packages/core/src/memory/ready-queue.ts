import { Heap } from './heap.js';

/** What the ready queue orders by: the message's priority (higher first), then its send order. */
export interface Ranked {
  readonly message: { readonly priority: number; readonly seq: number };
}

/** Spent slots at the front of a lane's FIFO tolerated before it is compacted. */
const COMPACT_AFTER = 1024;

/**
 * The ready messages of a queue: highest priority first, oldest (lowest `seq`) first within one. The same
 * order as one heap, but a message usually becomes ready in send order, so each priority keeps a FIFO in
 * `seq` order (push and pop O(1)) and a small heap for the few that come back out of order (a lock that ran
 * out, a release). A busy backlog of 100,000 messages no longer costs a 17-level sift on every take.
 */
export class ReadyQueue<E extends Ranked> {
  readonly #lanes = new Map<number, Lane<E>>();
  /** The priorities that have a lane, highest first. */
  #priorities: number[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(entry: E): void {
    const { priority } = entry.message;
    let lane = this.#lanes.get(priority);
    if (!lane) {
      lane = new Lane<E>();
      this.#lanes.set(priority, lane);
      this.#priorities = [...this.#priorities, priority].sort((a, b) => b - a);
    }
    lane.push(entry);
    this.#size++;
  }

  /** The first entry in delivery order, taken out; undefined when empty. */
  pop(): E | undefined {
    if (this.#size === 0) return undefined;
    for (const priority of this.#priorities) {
      const entry = this.#lanes.get(priority)?.pop();
      if (entry) {
        this.#size--;
        return entry;
      }
    }
    return undefined;
  }

  clear(): void {
    this.#lanes.clear();
    this.#priorities = [];
    this.#size = 0;
  }
}

/** One priority's entries: a FIFO in `seq` order, and a heap of those pushed behind a later one. */
class Lane<E extends Ranked> {
  #fifo: (E | undefined)[] = [];
  #head = 0;
  readonly #late = new Heap<E>((a, b) => a.message.seq < b.message.seq);

  push(entry: E): void {
    const fifo = this.#fifo;
    const tail = fifo.length > this.#head ? fifo[fifo.length - 1] : undefined;
    if (tail === undefined || tail.message.seq < entry.message.seq) fifo.push(entry);
    else this.#late.push(entry);
  }

  pop(): E | undefined {
    const first = this.#head < this.#fifo.length ? this.#fifo[this.#head] : undefined;
    const late = this.#late.peek();
    if (first === undefined || (late !== undefined && late.message.seq < first.message.seq))
      return this.#late.pop();
    this.#fifo[this.#head++] = undefined;
    if (this.#head === this.#fifo.length) {
      this.#fifo = [];
      this.#head = 0;
    } else if (this.#head > COMPACT_AFTER && this.#head * 2 > this.#fifo.length) {
      this.#fifo = this.#fifo.slice(this.#head);
      this.#head = 0;
    }
    return first;
  }
}
