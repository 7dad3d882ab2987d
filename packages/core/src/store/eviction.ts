/**
 * The keys marked evictable (finished job records), oldest mark first. Each item carries the mark it was
 * queued with; an item is stale once its key was unmarked, marked again or removed since (the caller's
 * `current(key)` then answers another mark), and is skipped.
 */
export class EvictionQueue {
  private keys: string[] = [];
  private marks: number[] = [];
  private head = 0;
  private last = 0;

  /** Items held, stale ones included. */
  get size(): number {
    return this.keys.length - this.head;
  }

  /** Queue `key` and answer its new mark (> 0). */
  push(key: string): number {
    const mark = ++this.last;
    this.keys.push(key);
    this.marks.push(mark);
    return mark;
  }

  /**
   * Take items off the queue, oldest first, until `evict(key, mark)` has answered true `count` times (it
   * drops the key when `mark` is still its mark) or the queue is empty.
   */
  evict(count: number, evict: (key: string, mark: number) => boolean): void {
    let left = count;
    while (left > 0 && this.head < this.keys.length) {
      const at = this.head++;
      if (evict(this.keys[at] as string, this.marks[at] as number)) left--;
    }
    // Taken items are cut off in one move once they are half the arrays: amortised O(1) an item.
    if (this.head > 1024 && 2 * this.head > this.keys.length) {
      this.keys = this.keys.slice(this.head);
      this.marks = this.marks.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Drop the stale items once they dominate (`live` marked keys against many more items: keys marked
   * again and again stay one live item each). `current(key)`: the key's mark now (0 for none).
   */
  compact(live: number, current: (key: string) => number): void {
    if (this.size <= 2 * live + 1024) return;
    let kept = 0;
    for (let i = this.head; i < this.keys.length; i++) {
      const key = this.keys[i] as string;
      if (current(key) !== this.marks[i]) continue;
      this.keys[kept] = key;
      this.marks[kept++] = this.marks[i] as number;
    }
    this.keys.length = kept;
    this.marks.length = kept;
    this.head = 0;
  }
}
