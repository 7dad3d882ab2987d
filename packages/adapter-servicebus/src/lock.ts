/**
 * Keeps a peek-lock for as long as the core asked (`lockMs` on receive, then `extendLock(ms)` from
 * the core's heartbeat). A Service Bus lock lasts the queue's LockDuration and a renewal restarts
 * it from now; when the core asks for longer than that, the keeper renews before it runs out.
 * Renewal is driven by the core only: the SDK's own auto-renewal is switched off, so a process
 * that dies stops renewing and the message comes back when the lock expires.
 */

/** Renews the lock once; resolves with the new expiry. */
export type RenewLock = () => Promise<Date>;

/** Renew when this fraction of the remaining lock time is left (half: an event loop stalled for a third of a short lock must not lose it). */
const RENEW_AT_FRACTION = 1 / 2;
const MIN_RENEW_DELAY_MS = 50;

/** One delivery's lock. */
export class LockKeeper {
  private holdUntil: number;
  /** The broker's expiry of the lock as received, before any renewal. */
  private readonly firstBrokerLockedUntil: number;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The error of a background renewal that failed, if any (the settle call will report it). */
  failure: unknown;

  constructor(
    private readonly renew: RenewLock,
    private brokerLockedUntil: number,
    holdMs: number,
    now = Date.now(),
  ) {
    this.holdUntil = now + holdMs;
    this.firstBrokerLockedUntil = brokerLockedUntil;
    this.schedule(now);
  }

  /**
   * When the lock runs out as far as the driver can tell: the time the core asked to hold it until,
   * while renewals succeed; the broker's last expiry once one failed (or once stopped).
   */
  get lockedUntil(): number {
    if (this.failure !== undefined || this.stopped) return this.brokerLockedUntil;
    return Math.max(this.brokerLockedUntil, this.holdUntil);
  }

  /**
   * When the lock the core asked for runs out: a settle past it is refused, although the broker's lock may
   * run a little longer (a renewal restarts a whole LockDuration, past what was asked).
   */
  get heldUntil(): number {
    if (this.failure !== undefined || this.stopped) return this.brokerLockedUntil;
    return Math.max(this.firstBrokerLockedUntil, this.holdUntil);
  }

  /** Keep the lock `ms` more from now; renews at once when the current lock ends earlier. */
  async hold(ms: number): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    this.holdUntil = Math.max(this.holdUntil, now + ms);
    if (this.brokerLockedUntil < now + ms) {
      try {
        await this.renewNow();
      } catch (error) {
        this.failure = error;
        throw error;
      }
    }
    this.schedule(Date.now());
  }

  /** Keep the lock exactly `ms` more from now (it may stop renewing sooner than before). */
  reset(ms: number): void {
    if (this.stopped) return;
    const now = Date.now();
    this.holdUntil = now + ms;
    this.schedule(now);
  }

  /** Stop renewing (settled, or the driver is closing). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async renewNow(): Promise<void> {
    this.brokerLockedUntil = (await this.renew()).getTime();
    this.failure = undefined;
  }

  private schedule(now: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped || this.brokerLockedUntil >= this.holdUntil) return;
    const left = this.brokerLockedUntil - now;
    const delay = Math.max(MIN_RENEW_DELAY_MS, left - Math.max(left * RENEW_AT_FRACTION, 200));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.renewNow()
        .then(() => this.schedule(Date.now()))
        .catch((error: unknown) => {
          this.failure = error;
          // A renewal that timed out (a busy broker or event loop) is tried again while the lock may
          // still be held; a lost lock is final.
          if (
            (error as { code?: string } | null)?.code !== 'MessageLockLost' &&
            Date.now() < this.brokerLockedUntil
          )
            this.schedule(Date.now());
        });
    }, delay);
    this.timer.unref();
  }
}
