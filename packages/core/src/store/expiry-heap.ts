/**
 * Min-heap of (expiresAt, key). An item is stale when its key was rewritten with another expiry since;
 * stale items are dropped when popped, and the heap is rebuilt when they outnumber the live ones.
 */
export class ExpiryHeap {
  private times: number[] = [];
  private keys: string[] = [];

  get size(): number {
    return this.times.length;
  }

  push(expiresAt: number, key: string): void {
    let i = this.times.length;
    this.times.push(expiresAt);
    this.keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.times[parent] as number) <= expiresAt) break;
      this.move(parent, i);
      i = parent;
    }
    this.times[i] = expiresAt;
    this.keys[i] = key;
  }

  /** Earliest expiry, or Infinity when empty. */
  peek(): number {
    return this.times.length > 0 ? (this.times[0] as number) : Number.POSITIVE_INFINITY;
  }

  pop(): { expiresAt: number; key: string } | undefined {
    if (this.times.length === 0) return undefined;
    const top = { expiresAt: this.times[0] as number, key: this.keys[0] as string };
    const lastTime = this.times.pop() as number;
    const lastKey = this.keys.pop() as string;
    const n = this.times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child =
          right < n && (this.times[right] as number) < (this.times[left] as number) ? right : left;
        if ((this.times[child] as number) >= lastTime) break;
        this.move(child, i);
        i = child;
      }
      this.times[i] = lastTime;
      this.keys[i] = lastKey;
    }
    return top;
  }

  clear(): void {
    this.times = [];
    this.keys = [];
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from] as number;
    this.keys[to] = this.keys[from] as string;
  }
}
