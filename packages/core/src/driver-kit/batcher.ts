/**
 * Sends one chunk of items of one key (a queue, a subscription): resolve with an error per item that
 * failed (`undefined` for one that succeeded; nothing when all did), or reject when the whole call failed.
 */
export type BatchFlush<I> = (key: string, items: I[]) => Promise<readonly (Error | undefined)[] | undefined>;

interface Pending<I> {
  readonly item: I;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Coalesces items added in the same turn of the event loop into `flush` calls of at most `maxItems` per key
 * (a full chunk goes at once), settling each caller with its own item's result: acks as `DeleteMessageBatch`
 * or one `acknowledge` per subscription instead of one request per message.
 */
export class Batcher<I> {
  #pending = new Map<string, Pending<I>[]>();
  readonly #inflight = new Set<Promise<void>>();
  #scheduled = false;

  constructor(
    private readonly maxItems: number,
    private readonly flush: BatchFlush<I>,
  ) {}

  /** Add `item` under `key`; resolves once its chunk was sent and the item succeeded. */
  add(key: string, item: I): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const list = this.#pending.get(key) ?? [];
      list.push({ item, resolve, reject });
      this.#pending.set(key, list);
      if (list.length >= this.maxItems) {
        this.#pending.delete(key);
        this.#send(key, list);
      } else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flushAll());
      }
    });
  }

  /** Send what is pending now and wait for every chunk in flight (before the client goes away). */
  async drain(): Promise<void> {
    this.#flushAll();
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  #flushAll(): void {
    this.#scheduled = false;
    const all = this.#pending;
    this.#pending = new Map();
    for (const [key, list] of all) this.#send(key, list);
  }

  #send(key: string, list: Pending<I>[]): void {
    const work = (async () => {
      try {
        const errors = await this.flush(
          key,
          list.map((p) => p.item),
        );
        list.forEach((p, i) => {
          const error = errors?.[i];
          if (error) p.reject(error);
          else p.resolve();
        });
      } catch (error) {
        for (const p of list) p.reject(error);
      }
    })();
    this.#inflight.add(work);
    void work.finally(() => this.#inflight.delete(work));
  }
}
