/** Longest wait for more free slots before a receive. */
export const LINGER_MS = 5;
/** A receive that answers within this (ms) came from the driver's own buffer: batching it saves nothing. */
export const CHEAP_RECEIVE_MS = 1;

/**
 * Whether the receive loop waits briefly (LINGER_MS, or until another slot frees) before receiving.
 * Batching brokers answer one receive with up to maxBatchSize messages: when only a few slots are free,
 * lingering for more keeps receives batched. Only while receives cost a round trip: one answered from
 * the driver's buffer (BullMQ's fetched jobs, AMQP's pushed ones) is cheap, and lingering would only
 * leave slots idle. An idle consumer never lingers.
 */
export class Linger {
  private readonly batchTarget: number;
  private costMs = 0;
  private seen = false;

  constructor(concurrency: number, maxBatchSize: number) {
    this.batchTarget = Math.ceil(Math.min(concurrency, maxBatchSize) / 2);
  }

  /** A receive that returned messages took `ms` (an empty one includes the long poll: not counted). */
  observe(ms: number): void {
    this.costMs = this.seen ? this.costMs * 0.8 + ms * 0.2 : ms;
    this.seen = true;
  }

  wanted(free: number, inflight: number): boolean {
    return free < this.batchTarget && inflight > 0 && this.costMs > CHEAP_RECEIVE_MS;
  }
}
