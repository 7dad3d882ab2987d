/** Processing-duration histogram: bucket upper bounds in ms. */
export const DURATION_BUCKETS_MS = [
  5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000,
] as const;

/** A duration histogram. */
export interface DurationHistogram {
  readonly count: number;
  readonly sumMs: number;
  readonly minMs?: number;
  readonly maxMs?: number;
  /** Cumulative counts: `count` jobs took ≤ `le` ms (the last bucket is `+Inf`). */
  readonly buckets: readonly { readonly le: number; readonly count: number }[];
}

/** Counters of this process's queue object since it was created, plus the broker's depth. */
export interface QueueMetrics {
  readonly waiting?: number;
  readonly delayed?: number;
  readonly active?: number;
  readonly deadLettered?: number;
  /** Jobs whose handler resolved. */
  readonly completed: number;
  /** Handler failures (each failed attempt). */
  readonly failed: number;
  /** Failed attempts scheduled for another try. */
  readonly retried: number;
  /** Jobs sent to the dead letters by this process. */
  readonly deadLetteredTotal: number;
  readonly sent: number;
  /** Successful automatic or manual lock extensions. */
  readonly lockExtensions: number;
  /** Locks lost while a handler ran. */
  readonly locksLost: number;
  /** Deliveries that were redeliveries after a crash or lost lock (stalled jobs). */
  readonly stalled: number;
  readonly processingDuration: DurationHistogram;
}

/** Mutable counters behind `queue.metrics()`. */
export class MetricsRecorder {
  completed = 0;
  failed = 0;
  retried = 0;
  deadLettered = 0;
  sent = 0;
  lockExtensions = 0;
  locksLost = 0;
  stalled = 0;
  private readonly bucketCounts = new Array<number>(DURATION_BUCKETS_MS.length + 1).fill(0);
  private count = 0;
  private sumMs = 0;
  private minMs: number | undefined;
  private maxMs: number | undefined;

  observeDuration(ms: number): void {
    this.count++;
    this.sumMs += ms;
    this.minMs = this.minMs === undefined ? ms : Math.min(this.minMs, ms);
    this.maxMs = this.maxMs === undefined ? ms : Math.max(this.maxMs, ms);
    let index = 0;
    while (index < DURATION_BUCKETS_MS.length && !(ms <= (DURATION_BUCKETS_MS[index] as number))) index++;
    this.bucketCounts[index]! += 1;
  }

  histogram(): DurationHistogram {
    let cumulative = 0;
    const bounds = [...DURATION_BUCKETS_MS, Number.POSITIVE_INFINITY];
    return {
      count: this.count,
      sumMs: this.sumMs,
      ...(this.minMs === undefined ? {} : { minMs: this.minMs }),
      ...(this.maxMs === undefined ? {} : { maxMs: this.maxMs }),
      buckets: bounds.map((le, i) => {
        cumulative += this.bucketCounts[i] ?? 0;
        return { le, count: cumulative };
      }),
    };
  }
}
