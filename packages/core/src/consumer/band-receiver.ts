import type { Delivery, Driver } from '../driver.js';
import type { PriorityBands } from '../semantics/priority.js';

/** A band found empty is not asked again for this long. */
const BAND_RECHECK_MS = 200;

/**
 * Receives across priority bands: highest band first, without waiting; long-polls only the lowest.
 * A band found empty is not asked again for BAND_RECHECK_MS: nine empty round trips per turn would
 * dominate fast handlers.
 */
export class BandReceiver {
  private readonly emptyUntil = new Map<string, number>();

  constructor(
    private readonly driver: Driver,
    private readonly bands: PriorityBands,
    private readonly lockMs: number,
    private readonly signal: AbortSignal,
  ) {}

  /** Deliveries of one band, and the physical queue they came from. */
  async receive(max: number, waitMs: number): Promise<{ queue: string; deliveries: Delivery[] }> {
    const { queues } = this.bands;
    const options = { max, waitMs, lockMs: this.lockMs, signal: this.signal };
    // One band (no priority emulation): a plain long-poll receive.
    if (queues.length === 1) {
      const queue = queues[0] as string;
      return { queue, deliveries: await this.driver.receive(queue, options) };
    }
    const now = Date.now();
    for (const [index, queue] of queues.entries()) {
      const last = index === queues.length - 1;
      if (!last && (this.emptyUntil.get(queue) ?? 0) > now) continue;
      const got = await this.driver.receive(queue, last ? options : { ...options, waitMs: 0 });
      if (got.length > 0 || last) return { queue, deliveries: got };
      this.emptyUntil.set(queue, now + BAND_RECHECK_MS);
    }
    return { queue: this.bands.queue, deliveries: [] };
  }
}
