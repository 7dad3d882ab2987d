/**
 * The items marked evictable (finished job records' entries), oldest mark first. Each item is queued with
 * a mark; it is stale once it was unmarked, marked again or removed since (the caller's `current(item)`
 * then answers another mark), and is skipped.
 */
export class EvictionQueue<T> {
  private items: T[] = [];
  private marks: number[] = [];
  private head = 0;
  private last = 0;

  /** Items held, stale ones included. */
  get size(): number {
    return this.items.length - this.head;
  }

  /** Queue `item` and answer its new mark (> 0). */
  push(item: T): number {
    const mark = ++this.last;
    this.items.push(item);
    this.marks.push(mark);
    return mark;
  }

  /**
   * Take items off the queue, oldest first, until `evict(item, mark)` has answered true `count` times (it
   * drops the item when `mark` is still its mark) or the queue is empty.
   */
  evict(count: number, evict: (item: T, mark: number) => boolean): void {
    let left = count;
    while (left > 0 && this.head < this.items.length) {
      const at = this.head++;
      if (evict(this.items[at] as T, this.marks[at] as number)) left--;
    }
    // Taken items are cut off in one move once they are half the arrays: amortised O(1) an item.
    if (this.head > 1024 && 2 * this.head > this.items.length) {
      this.items = this.items.slice(this.head);
      this.marks = this.marks.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Drop the stale items once they dominate (`live` marked items against many more items: items marked
   * again and again stay one live item each). `current(item)`: the key's mark now (0 for none).
   */
  compact(live: number, current: (item: T) => number): void {
    if (this.size <= 2 * live + 1024) return;
    let kept = 0;
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i] as T;
      if (current(item) !== this.marks[i]) continue;
      this.items[kept] = item;
      this.marks[kept++] = this.marks[i] as number;
    }
    this.items.length = kept;
    this.marks.length = kept;
    this.head = 0;
  }
}
