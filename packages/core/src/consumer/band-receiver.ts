import type { Delivery, Driver, ReceiveOptions } from '../driver.js';
import type { PriorityBands } from '../semantics/priority.js';
import { linkSignals } from '../timers.js';

/** A band found empty by a receive that did not wait is not asked again without waiting for this long. */
const BAND_RECHECK_MS = 200;

/** What one receive across the bands hands the consumer. */
export interface BandDeliveries {
  /** The physical queue the deliveries came from. */
  readonly queue: string;
  readonly deliveries: Delivery[];
  /** When their locks were taken, when earlier than the receive call (they were kept from an earlier one). */
  readonly lockedAt?: number;
}

/** Deliveries received beyond what the consumer asked for, kept for its next receive. */
interface Kept {
  readonly band: number;
  readonly queue: string;
  readonly deliveries: Delivery[];
  readonly lockedAt: number;
}

/**
 * Receives across priority bands (index 0 is the highest). While a band has jobs: highest band first,
 * without waiting; a band found empty is skipped for BAND_RECHECK_MS (nine empty round trips per turn
 * would dominate fast handlers). Once every band is empty, all of them are long-polled at once and the
 * first answer ends the others' polls, so a job on any band reaches an idle consumer without a fixed wait.
 * Jobs that two bands hand over in the same instant beyond what was asked are kept here and handed out
 * next, after a look at the bands above theirs: a higher band's visible job still goes first.
 */
export class BandReceiver {
  private readonly emptyUntil: number[];
  private readonly kept: Kept[] = [];

  constructor(
    private readonly driver: Driver,
    private readonly bands: PriorityBands,
    private readonly lockMs: number,
    private readonly signal: AbortSignal,
  ) {
    this.emptyUntil = bands.queues.map(() => 0);
  }

  /** Deliveries of one band (at most `max`), and the physical queue they came from. */
  async receive(max: number, waitMs: number): Promise<BandDeliveries> {
    const { queues } = this.bands;
    // One band (no priority emulation): a plain long-poll receive.
    if (queues.length === 1) {
      const queue = queues[0] as string;
      const options = { max, waitMs, lockMs: this.lockMs, signal: this.signal };
      return { queue, deliveries: await this.driver.receive(queue, options) };
    }
    const now = Date.now();
    const kept = this.kept[0];
    const above = kept ? kept.band : queues.length;
    const options = { max, waitMs: 0, lockMs: this.lockMs, signal: this.signal };
    for (let band = 0; band < above; band++) {
      if ((this.emptyUntil[band] as number) > now) continue;
      const queue = queues[band] as string;
      const deliveries = await this.driver.receive(queue, options);
      if (deliveries.length > 0) return { queue, deliveries };
      this.emptyUntil[band] = now + BAND_RECHECK_MS;
    }
    if (kept) return this.takeKept(kept, max);
    if (waitMs <= 0 || this.signal.aborted) return { queue: this.bands.queue, deliveries: [] };
    return this.pollAll(max, waitMs);
  }

  /** Up to `max` of the best kept deliveries (the rest stay kept). */
  private takeKept(kept: Kept, max: number): BandDeliveries {
    const deliveries = kept.deliveries.splice(0, max);
    if (kept.deliveries.length === 0) this.kept.shift();
    return { queue: kept.queue, deliveries, lockedAt: kept.lockedAt };
  }

  /**
   * Long-poll every band at once; the first band to answer with jobs ends the other polls. Answers that
   * came in the same instant are kept, best band first. A failed poll is thrown only when no band answered.
   */
  private async pollAll(max: number, waitMs: number): Promise<BandDeliveries> {
    const { queues } = this.bands;
    const lockedAt = Date.now();
    const answered = new AbortController();
    const linked = linkSignals(this.signal, answered.signal);
    const options: ReceiveOptions = { max, waitMs, lockMs: this.lockMs, signal: linked.signal };
    const endOthers = (deliveries: Delivery[]) => {
      if (deliveries.length > 0) answered.abort();
      return deliveries;
    };
    let results: PromiseSettledResult<Delivery[]>[];
    try {
      results = await Promise.allSettled(
        queues.map((queue) => this.driver.receive(queue, options).then(endOthers)),
      );
    } finally {
      linked.dispose();
    }
    const now = Date.now();
    let failure: PromiseRejectedResult | undefined;
    results.forEach((result, band) => {
      if (result.status === 'rejected') failure ??= result;
      else if (result.value.length > 0)
        this.kept.push({ band, queue: queues[band] as string, deliveries: result.value, lockedAt });
      // Polled until now and empty: no need to ask it again without waiting at once.
      else this.emptyUntil[band] = now + BAND_RECHECK_MS;
    });
    const best = this.kept[0];
    // Deliveries in hand go first (their locks are ours); a lasting failure comes back on the next poll.
    if (best) return this.takeKept(best, max);
    if (failure) throw failure.reason;
    return { queue: this.bands.queue, deliveries: [] };
  }
}
