import type { Delivery, Driver, ReceiveOptions } from '../driver.js';
import type { LockLostError } from '../errors.js';
import type { PriorityBands } from '../semantics/priority.js';
import { safeTimeout } from '../timers.js';
import { type UnstartedBatch, UnstartedHold } from './unstarted-hold.js';

/**
 * A band found empty by a receive that did not wait is not asked again without waiting for this long; each
 * time it is found empty again the wait doubles, up to BAND_RECHECK_MAX_MS, and a job found there resets it.
 * While the consumer drains one band, the bands above it then cost about one request a second each, not five.
 */
const BAND_RECHECK_MS = 200;
const BAND_RECHECK_MAX_MS = 1_000;

/** What one receive across the bands hands the consumer. */
export interface BandDeliveries {
  /** The physical queue the deliveries came from. */
  readonly queue: string;
  readonly deliveries: Delivery[];
  /** When their locks were taken, when earlier than the receive call (a long poll that began before it). */
  readonly lockedAt?: number;
}

/** Deliveries a band's long poll brought, not handed out yet (their locks kept by the hold). */
interface Kept {
  readonly band: number;
  readonly queue: string;
  readonly deliveries: UnstartedBatch;
}

/**
 * Receives across priority bands (index 0 is the highest). While bands have jobs: highest band first,
 * without waiting; a band found empty is skipped for BAND_RECHECK_MS, doubling while it stays empty (nine
 * empty round trips per turn would dominate fast handlers). Once every band is empty, each band gets one long poll, and the consumer
 * waits for the first to end: a job on any band reaches an idle consumer without a fixed wait. A poll runs
 * on across receives until it ends (so an idle turn starts one new poll, not ten); what it brings is kept
 * and handed out after a look at the bands above it, so a higher band's visible job still goes first.
 * Kept deliveries may wait for a free slot longer than their lock: the {@link UnstartedHold} keeps it.
 */
export class BandReceiver {
  private readonly emptyUntil: number[];
  /** Each band's current recheck wait (0 until it is found empty). */
  private readonly recheckMs: number[];
  /** Each band's outstanding long poll, if any: when it ends at the latest (0 for none). */
  private readonly polling: number[];
  private readonly polls = new Set<Promise<void>>();
  /** What long polls brought, best band first. */
  private readonly kept: Kept[] = [];
  private failure: { error: unknown } | undefined;
  /** Wakes the receive waiting for a poll to end. */
  private ended: (() => void) | undefined;
  /** Keeps the locks of kept deliveries while the consumer is too busy to start them. */
  private readonly hold: UnstartedHold;

  constructor(
    private readonly driver: Driver,
    private readonly bands: PriorityBands,
    private readonly lockMs: number,
    private readonly signal: AbortSignal,
    /** A kept delivery's renewal failed: it was given up (see {@link UnstartedHold}). */
    onLost?: (delivery: Delivery, error: LockLostError) => void,
  ) {
    this.emptyUntil = bands.queues.map(() => 0);
    this.recheckMs = bands.queues.map(() => 0);
    this.polling = bands.queues.map(() => 0);
    this.hold = new UnstartedHold(lockMs, onLost);
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
    const swept = await this.sweep(max);
    if (swept) return swept;
    if (waitMs <= 0 || this.signal.aborted) return { queue: this.bands.queue, deliveries: [] };
    const ended = new Promise<void>((resolve) => {
      this.ended = resolve;
    });
    const until = Date.now() + waitMs;
    let latest = 0;
    for (let band = 0; band < queues.length; band++) {
      if (!this.polling[band]) this.poll(band, max, waitMs);
      latest = Math.max(latest, this.polling[band] as number);
    }
    // A poll begun by an earlier receive may run past this one's wait (a shorter rate-limit window).
    const timer = latest > until ? safeTimeout(() => this.wake(), waitMs) : undefined;
    await ended;
    timer?.clear();
    return (await this.sweep(max)) ?? { queue: this.bands.queue, deliveries: [] };
  }

  /**
   * Once the polls have ended (the consumer stopped: they end at once), what they brought and was not
   * handed out, best band first. Still held: their locks are renewed until the consumer takes them.
   */
  async leftovers(): Promise<{ readonly queue: string; readonly deliveries: UnstartedBatch }[]> {
    while (this.polls.size > 0) await Promise.allSettled([...this.polls]);
    return this.kept.splice(0).filter(({ deliveries }) => deliveries.size > 0);
  }

  /** Stop keeping the locks of whatever is still held (the consumer will not start it). */
  letGo(): void {
    this.hold.clear();
  }

  /**
   * Bands above the best kept one without waiting (those not watched by a poll), else the kept deliveries.
   * Bands found empty before are asked together, in one round trip, not one after another (nine empty
   * band queues above the one being drained cost one wait, not nine); a band that had jobs at its last
   * look is asked alone, after the expected-empty ones above it, so a busy band below is never over-fetched.
   */
  private async sweep(max: number): Promise<BandDeliveries | undefined> {
    const { queues } = this.bands;
    // A batch the hold gave up entirely (every renewal failed) is left out.
    while (this.kept[0] && this.kept[0].deliveries.size === 0) this.kept.shift();
    const kept = this.kept[0];
    const now = Date.now();
    const options = { max, waitMs: 0, lockMs: this.lockMs, signal: this.signal };
    let expectedEmpty: number[] = [];
    for (let band = 0; band < (kept ? kept.band : queues.length); band++) {
      // A band with a poll outstanding is watched: the poll ends as soon as a job arrives there.
      if (this.polling[band] || (this.emptyUntil[band] as number) > now) continue;
      if (this.recheckMs[band] !== 0) {
        expectedEmpty.push(band);
        continue;
      }
      // The expected-empty bands above first, then this one alone.
      const found =
        (await this.probe(expectedEmpty, options, now)) ?? (await this.probe([band], options, now));
      if (found) return found;
      expectedEmpty = [];
    }
    const found = await this.probe(expectedEmpty, options, now);
    if (found) return found;
    if (this.kept[0]) {
      const best = this.kept[0];
      const { lockedAt } = best.deliveries;
      const deliveries = best.deliveries.take(max);
      if (best.deliveries.size === 0) this.kept.shift();
      return { queue: best.queue, deliveries, lockedAt };
    }
    // Deliveries in hand go first (their locks are ours); a poll's failure is thrown once nothing is left.
    const failure = this.failure;
    this.failure = undefined;
    if (failure) throw failure.error;
    return undefined;
  }

  /**
   * Ask `bands` (best first) at once: the best one with jobs is answered, the jobs of any other one are
   * kept (held) for after it. An error is thrown once the others are kept.
   */
  private async probe(
    bands: readonly number[],
    options: ReceiveOptions,
    now: number,
  ): Promise<BandDeliveries | undefined> {
    if (bands.length === 0) return undefined;
    const { queues } = this.bands;
    const answers = await Promise.allSettled(
      bands.map((band) => this.driver.receive(queues[band] as string, options)),
    );
    let best: BandDeliveries | undefined;
    let failure: { error: unknown } | undefined;
    for (let at = 0; at < answers.length; at++) {
      const answer = answers[at] as PromiseSettledResult<Delivery[]>;
      const band = bands[at] as number;
      if (answer.status === 'rejected') failure ??= { error: answer.reason };
      else if (answer.value.length === 0) this.foundEmpty(band, now);
      else {
        this.recheckMs[band] = 0;
        if (best === undefined) best = { queue: queues[band] as string, deliveries: answer.value };
        else this.keep(band, answer.value, now);
      }
    }
    if (best) {
      // What came with the best band is still ours to start: a failure elsewhere is the next receive's.
      if (failure) this.failure ??= failure;
      return best;
    }
    if (failure) throw failure.error;
    return undefined;
  }

  /** Keep what a band brought, best band first, its locks held until the consumer takes them. */
  private keep(band: number, deliveries: Delivery[], lockedAt: number): void {
    let at = this.kept.findIndex((kept) => kept.band > band);
    if (at < 0) at = this.kept.length;
    const queue = this.bands.queues[band] as string;
    this.kept.splice(at, 0, { band, queue, deliveries: this.hold.keep(deliveries, lockedAt) });
  }

  /** Long-poll `band`; its deliveries are kept (best band first) and the waiting receive is woken. */
  private poll(band: number, max: number, waitMs: number): void {
    const queue = this.bands.queues[band] as string;
    const lockedAt = Date.now();
    this.polling[band] = lockedAt + waitMs;
    const polled = this.driver.receive(queue, { max, waitMs, lockMs: this.lockMs, signal: this.signal }).then(
      (deliveries) => {
        this.polling[band] = 0;
        if (deliveries.length > 0) {
          this.recheckMs[band] = 0;
          this.keep(band, deliveries, lockedAt);
        } else this.foundEmpty(band, Date.now());
        this.wake();
      },
      (error: unknown) => {
        this.polling[band] = 0;
        this.failure ??= { error };
        this.wake();
      },
    );
    this.polls.add(polled);
    void polled.then(() => this.polls.delete(polled));
  }

  private foundEmpty(band: number, now: number): void {
    const previous = this.recheckMs[band] as number;
    const wait = previous === 0 ? BAND_RECHECK_MS : Math.min(previous * 2, BAND_RECHECK_MAX_MS);
    this.recheckMs[band] = wait;
    this.emptyUntil[band] = now + wait;
  }

  private wake(): void {
    const ended = this.ended;
    this.ended = undefined;
    ended?.();
  }
}
