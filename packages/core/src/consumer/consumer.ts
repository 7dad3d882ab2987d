import type { QueueContext } from '../context.js';
import type { Delivery, Driver } from '../driver.js';
import { ConfigError, QueueClosedError } from '../errors.js';
import { report } from '../observability/report.js';
import { PriorityBands } from '../semantics/priority.js';
import { abortableDelay, lifetimeController, MAX_TIMER_MS, settlesWithin } from '../timers.js';
import type { Handler, ProcessOptions } from '../types.js';
import { BandReceiver } from './band-receiver.js';
import { LockHeartbeat } from './heartbeat.js';
import { RateGate } from './rate-gate.js';
import { Linger, LINGER_MS } from './linger.js';
import { JobRunner } from './run-job.js';
import type { ConsumerScope } from './scope.js';

const DEFAULT_LOCK_MS = 30_000;
const DEFAULT_POLL_MS = 1_000;

/**
 * The consuming half of a queue: the receive loop, bounded by `concurrency`. Each delivery goes to a
 * {@link JobRunner}; locks are kept by the {@link LockHeartbeat}; the rate limit by the {@link RateGate}. Internal.
 */
export class ConsumerLoop<T> {
  private readonly concurrency: number;
  private readonly lockMs: number;
  private readonly pollMs: number;
  private readonly timeoutMs: number | undefined;
  private readonly stopping = lifetimeController();
  private readonly forced = new AbortController();
  /** Jobs being handled, and who waits for none to be. */
  private running = 0;
  private drainWaiters: (() => void)[] = [];
  private slotWaiters: (() => void)[] = [];
  private loop: Promise<void> | undefined;
  private readonly heartbeat: LockHeartbeat;

  constructor(
    private readonly ctx: QueueContext<T>,
    private readonly handler: Handler<T>,
    private readonly options: ProcessOptions = {},
  ) {
    this.concurrency = options.concurrency ?? 1;
    this.lockMs = options.lockDuration ?? DEFAULT_LOCK_MS;
    this.pollMs = options.pollInterval ?? DEFAULT_POLL_MS;
    const timeout = options.timeout;
    if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 1 && timeout <= MAX_TIMER_MS))
      throw new ConfigError('timeout', `expected an integer 1-${MAX_TIMER_MS} (ms), got ${String(timeout)}`);
    this.timeoutMs = timeout;
    this.heartbeat = new LockHeartbeat(this.lockMs, {
      extended: () => report(ctx, { type: 'lock-extended' }),
      lost: () => report(ctx, { type: 'lock-lost' }),
      error: (error) => report(ctx, { type: 'error', error }),
    });
  }

  /** Jobs currently being handled by this consumer. */
  get active(): number {
    return this.running;
  }

  start(): void {
    this.loop = this.run().catch((error) => report(this.ctx, { type: 'error', error }));
  }

  /** Stop receiving, wait up to `timeoutMs` for in-flight jobs, then abort the rest. */
  async stop(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.stopping.abort();
    this.wakeSlots();
    // A receive the broker never answers (a black-holed connection) must not hold close() past its
    // timeout: the driver's own close then ends it.
    const loopEnded = await settlesWithin(this.loop, timeoutMs);
    if (loopEnded && this.running === 0) return;
    const drained = await settlesWithin(this.drained(), deadline - Date.now());
    if (!drained) {
      const reason = new QueueClosedError('Queue closed before the job finished');
      this.forced.abort(reason);
      this.heartbeat.abandon(reason);
      this.wakeSlots();
    }
  }

  private wakeSlots(): void {
    // Called once per finished job: nothing to allocate while the loop is not waiting for a slot.
    if (this.slotWaiters.length === 0) return;
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once no job is being handled. */
  private drained(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  private freeSlot(): Promise<void> {
    return new Promise<void>((resolve) => this.slotWaiters.push(resolve));
  }

  /**
   * The driver, connected, with the native rate limit set up: retried with backoff until it works or the
   * consumer stops (undefined then), so a consumer started during an outage consumes once the broker is back.
   */
  private async connect(): Promise<
    { driver: Driver; bands: PriorityBands; nativeLimit: boolean } | undefined
  > {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      try {
        const driver = await this.ctx.driver();
        const bands = new PriorityBands(driver, this.ctx.name, this.ctx.strict);
        const setRateLimit = driver.workflows?.setRateLimit;
        const nativeLimit = this.ctx.rateLimit !== undefined && setRateLimit !== undefined;
        if (this.ctx.rateLimit && setRateLimit)
          for (const queue of bands.queues)
            await setRateLimit.call(driver.workflows, queue, this.ctx.rateLimit);
        return { driver, bands, nativeLimit };
      } catch (error) {
        if (this.stopping.signal.aborted) break;
        report(this.ctx, { type: 'error', error });
        await abortableDelay(retryDelayMs(++failures), this.stopping.signal);
      }
    }
    return undefined;
  }

  private async run(): Promise<void> {
    const connected = await this.connect();
    if (!connected) return;
    const { driver, bands, nativeLimit } = connected;
    const scope: ConsumerScope<T> = {
      ctx: this.ctx,
      driver,
      bands,
      heartbeat: this.heartbeat,
      forced: this.forced.signal,
      nativeJobs: driver.workflows?.jobs !== undefined,
      policy: {
        backoff: this.ctx.defaults.backoff,
        trustMessageBackoff: this.options.trustMessageBackoff === true,
        maxDelayHop: this.ctx.maxDelayHop,
      },
    };
    const runner = new JobRunner(scope, this.handler, this.timeoutMs);
    // A taken delivery given up before it started (its renewal failed) counts as a lost lock, like a running one's.
    const lost = () => report(this.ctx, { type: 'lock-lost' });
    const receiver = new BandReceiver(driver, bands, this.lockMs, this.stopping.signal, lost);
    const gate = new RateGate(
      this.ctx.rateLimiter,
      nativeLimit,
      this.lockMs,
      this.stopping.signal,
      (error) => report(this.ctx, { type: 'error', error }),
      lost,
    );
    let failures = 0;
    const linger = new Linger(this.concurrency, driver.capabilities.maxBatchSize);
    while (!this.stopping.signal.aborted) {
      let free = this.concurrency - this.running;
      if (free <= 0) {
        await this.freeSlot();
        continue;
      }
      if (linger.wanted(free, this.running)) {
        await Promise.race([this.freeSlot(), abortableDelay(LINGER_MS)]);
        free = this.concurrency - this.running;
      }
      let deliveries: Delivery[];
      let from = bands.queue;
      let windowEndsAt = Number.POSITIVE_INFINITY;
      // Locks are taken during the receive call: counting from its start errs on the safe side.
      let receivedAt = Date.now();
      try {
        let allowed = free;
        // Without a store-based limit there is nothing to wait for: no promise per receive.
        if (gate.limited) {
          const permit = await gate.permits(free);
          if (permit.allowed === 0) continue;
          allowed = permit.allowed;
          windowEndsAt = permit.windowEndsAt;
        }
        // Never long-poll past the rate-limit window the permits were counted in.
        const waitMs = Math.max(0, Math.min(this.pollMs, windowEndsAt - Date.now()));
        receivedAt = Date.now();
        const startedAt = performance.now();
        const got = await receiver.receive(allowed, waitMs);
        ({ queue: from, deliveries } = got);
        if (got.lockedAt !== undefined) receivedAt = got.lockedAt;
        // An empty answer includes the long poll's wait: only answers with messages measure the cost.
        if (deliveries.length > 0) linger.observe(performance.now() - startedAt);
        if (deliveries.length < allowed) gate.giveBack(allowed - deliveries.length, windowEndsAt);
        failures = 0;
      } catch (error) {
        if (this.stopping.signal.aborted) break;
        report(this.ctx, { type: 'error', error });
        await abortableDelay(retryDelayMs(++failures), this.stopping.signal);
        continue;
      }
      if (Date.now() >= windowEndsAt && deliveries.length > 0) {
        const queue = from;
        await gate.admitLate(deliveries, receivedAt, (delivery, lockedAt) =>
          this.track(runner.handle(delivery, queue, lockedAt)),
        );
      } else for (const delivery of deliveries) this.track(runner.handle(delivery, from, receivedAt));
    }
    // Jobs a band's poll brought but the loop did not hand out: already held, so run (as slots free, within
    // close's timeout) rather than left to a redelivery that counts as an attempt.
    // They stay in the hold (locks renewed) until a slot takes them; once close() gives up waiting, the
    // rest are let go (their locks run out and the broker redelivers them).
    leftovers: for (const { queue, deliveries: batch } of await receiver.leftovers())
      while (batch.size > 0) {
        while (this.running >= this.concurrency && !this.forced.signal.aborted) await this.freeSlot();
        if (this.forced.signal.aborted) break leftovers;
        const { lockedAt } = batch;
        for (const delivery of batch.take(this.concurrency - this.running))
          this.track(runner.handle(delivery, queue, lockedAt));
      }
    receiver.letGo();
  }

  /** Count a job in until it settles. Two reactions shared by every job: no closures, no set per job. */
  private track(work: Promise<void>): void {
    this.running++;
    work.then(this.settled, this.failed);
  }

  /** A job settled (or failed): its slot is free. */
  private readonly settled = (): void => {
    this.running--;
    this.wakeSlots();
    if (this.running > 0 || this.drainWaiters.length === 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  };

  private readonly failed = (error: unknown): void => {
    this.settled();
    report(this.ctx, { type: 'error', error });
  };
}

/** Wait before the next try after `failures` transport failures in a row: 200 ms doubling to 5 s. */
function retryDelayMs(failures: number): number {
  return Math.min(5_000, 100 * 2 ** Math.min(failures, 6));
}
