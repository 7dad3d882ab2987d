import { type BackoffOptions, backoffDelay } from './backoff.js';
import { hopLimit, physicalQueues, type QueueContext } from './context.js';
import type { DeadLetterInfo, Delivery, Driver, OutgoingMessage } from './driver.js';
import {
  ConfigError,
  errorMessage,
  JobTimeoutError,
  LockLostError,
  QueueClosedError,
  RetryAfterError,
  UnrecoverableError,
} from './errors.js';
import {
  attemptHeader,
  backoffHeader,
  H,
  HEADER_BOUNDS,
  intHeader,
  maxAttemptsHeader,
  notBeforeHeader,
  userHeaders,
} from './headers.js';
import { FANOUT_INDEX, FANOUT_PARENT, finishChunk } from './fanout.js';
import { prepareEntries, sendEntries } from './producer.js';
import { validateWith } from './schema.js';
import { withProcessSpan } from './telemetry.js';
import { capErrorText } from './tracking.js';
import { abortableDelay, MAX_TIMER_MS, type SafeTimer, safeTimeout, settlesWithin } from './timers.js';
import type { BatchEntry, Handler, HandlerContext, Job, ProcessOptions } from './types.js';

const DEFAULT_LOCK_MS = 30_000;
const DEFAULT_POLL_MS = 1_000;
const DEFAULT_MAX_ATTEMPTS = 3;
const LINGER_MS = 5;
const BAND_RECHECK_MS = 200;

/** Attempt metadata read from a delivery's headers (parsed strictly, see HEADER_BOUNDS) and delivery count. */
export interface AttemptInfo {
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Epoch ms before which the job must not run; 0 for none. */
  readonly notBefore: number;
  readonly backoff: BackoffOptions | undefined;
  /** Why the core headers cannot be honoured (the message is dead-lettered as `invalid-headers`). */
  readonly invalid?: string;
}

/** The attempt count survives redelivery: header (bumped on re-send) plus redeliveries in place. */
export function attemptInfo(delivery: Delivery, defaultMaxAttempts = DEFAULT_MAX_ATTEMPTS): AttemptInfo {
  const count = delivery.deliveryCount;
  const redeliveries = Number.isSafeInteger(count) && count > 1 ? count - 1 : 0;
  const notBefore = notBeforeHeader(delivery.headers);
  return {
    attempt: attemptHeader(delivery.headers) + redeliveries,
    maxAttempts: maxAttemptsHeader(delivery.headers, defaultMaxAttempts),
    notBefore: notBefore ?? 0,
    backoff: backoffHeader(delivery.headers),
    ...(notBefore === undefined
      ? { invalid: `${H.notBefore} lies more than ${HEADER_BOUNDS.maxDelayMs} ms ahead` }
      : {}),
  };
}

/** A delivery this consumer holds, from receipt until it is settled. */
interface ActiveJob {
  readonly delivery: Delivery;
  /** Aborted when the lock is lost, a close times out, or the job's timeout elapses. */
  readonly controller: AbortController;
  /** When the lock runs out, as far as this consumer knows (`delivery.lockedUntil` when the driver tells). */
  expiresAt(): number;
  /** Length of the lock last taken or renewed, in ms. */
  span: number;
  /** A renewal is in flight. */
  renewing: boolean;
  /** When the last renewal started (0 for none). */
  renewedAt: number;
  /** The handler is running (a lost lock is then reported as an error; during settlement, the settle call reports it). */
  inHandler: boolean;
  /** Renew the lock now; rejects (and aborts `controller`) when it is lost. */
  extend(): Promise<void>;
}

/** The heartbeat renews a lock once this fraction of it has run (2/3 of it is then left). */
const RENEW_AFTER = 1 / 3;
const MIN_RENEW_GAP_MS = 20;

/** Below this much lock left, a driver that cannot renew is treated as having lost it before a copy is sent. */
const LOCK_MARGIN_MS = 50;
/** Longest keyed retry the consumer waits for in place (holding its slot) to keep the key's order. */
const MAX_IN_PLACE_RETRY_MS = 15 * 60_000;

/** The consuming half of a queue: a receive loop bounded by `concurrency`. Internal. */
export class ConsumerLoop<T> {
  private readonly concurrency: number;
  private readonly lockMs: number;
  private readonly pollMs: number;
  private readonly trustMessageBackoff: boolean;
  private readonly timeoutMs: number | undefined;
  private readonly stopping = new AbortController();
  private readonly forced = new AbortController();
  private readonly inflight = new Set<Promise<void>>();
  private slotWaiters: (() => void)[] = [];
  private loop: Promise<void> | undefined;
  private readonly running = new Set<ActiveJob>();
  /** The broker enforces the rate limit (BullMQ's limiter); the store-based one is not used. */
  private nativeLimit = false;
  /** Priority bands found empty, and until when they are not polled again. */
  private readonly bandEmptyUntil = new Map<string, number>();
  /** The broker keeps job records; the core writes none. */
  private nativeJobs = false;
  private heartbeat: SafeTimer | undefined;
  private heartbeatAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly ctx: QueueContext<T>,
    private readonly handler: Handler<T>,
    options: ProcessOptions = {},
  ) {
    this.concurrency = options.concurrency ?? 1;
    this.lockMs = options.lockDuration ?? DEFAULT_LOCK_MS;
    this.pollMs = options.pollInterval ?? DEFAULT_POLL_MS;
    this.trustMessageBackoff = options.trustMessageBackoff === true;
    const timeout = options.timeout;
    if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 1 && timeout <= MAX_TIMER_MS))
      throw new ConfigError('timeout', `expected an integer 1-${MAX_TIMER_MS} (ms), got ${String(timeout)}`);
    this.timeoutMs = timeout;
  }

  /** Jobs currently being handled by this consumer. */
  get active(): number {
    return this.inflight.size;
  }

  start(): void {
    this.loop = this.run().catch((error) => this.ctx.emit('error', asError(error)));
  }

  /** Stop receiving, wait up to `timeoutMs` for in-flight jobs, then abort the rest. */
  async stop(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.stopping.abort();
    this.wakeSlots();
    // A receive the broker never answers (a black-holed connection) must not hold close() past its
    // timeout: the driver's own close then ends it.
    const loopEnded = await settlesWithin(this.loop, timeoutMs);
    if (loopEnded && this.inflight.size === 0) return;
    const drained = await settlesWithin(Promise.allSettled([...this.inflight]), deadline - Date.now());
    if (!drained) {
      const reason = new QueueClosedError('Queue closed before the job finished');
      this.forced.abort(reason);
      this.stopHeartbeat();
      for (const job of this.running) job.controller.abort(reason);
    }
  }

  private wakeSlots(): void {
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * The driver, connected, with the native rate limit set up: retried with backoff until it works or the
   * consumer stops (undefined then), so a consumer started during an outage consumes once the broker is back.
   */
  private async connect(): Promise<Driver | undefined> {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      try {
        const driver = await this.ctx.driver();
        this.nativeJobs = driver.workflows?.jobs !== undefined;
        const setRateLimit = driver.workflows?.setRateLimit;
        if (this.ctx.rateLimit && setRateLimit) {
          for (const queue of physicalQueues(driver, this.ctx.name, this.ctx.strict))
            await setRateLimit.call(driver.workflows, queue, this.ctx.rateLimit);
          this.nativeLimit = true;
        }
        return driver;
      } catch (error) {
        if (this.stopping.signal.aborted) break;
        this.ctx.emit('error', asError(error));
        await abortableDelay(retryDelayMs(++failures), this.stopping.signal);
      }
    }
    return undefined;
  }

  private async run(): Promise<void> {
    const driver = await this.connect();
    if (!driver) return;
    const queues = physicalQueues(driver, this.ctx.name, this.ctx.strict);
    let failures = 0;
    // Batching brokers answer one receive with up to maxBatchSize messages: when only a few slots are
    // free, linger briefly for more so that receives stay batched (bounded, so long jobs lose nothing).
    const batchTarget = Math.ceil(Math.min(this.concurrency, driver.capabilities.maxBatchSize) / 2);
    while (!this.stopping.signal.aborted) {
      let free = this.concurrency - this.inflight.size;
      if (free <= 0) {
        await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
        continue;
      }
      if (free < batchTarget && this.inflight.size > 0) {
        await Promise.race([
          new Promise<void>((resolve) => this.slotWaiters.push(resolve)),
          abortableDelay(LINGER_MS),
        ]);
        free = this.concurrency - this.inflight.size;
      }
      let deliveries: Delivery[];
      let windowEndsAt = Number.POSITIVE_INFINITY;
      // Locks are taken during the receive call: counting from its start errs on the safe side.
      let receivedAt = Date.now();
      try {
        const permit = await this.permits(free);
        if (permit.allowed === 0) continue;
        windowEndsAt = permit.windowEndsAt;
        // Never long-poll past the rate-limit window the permits were counted in.
        const waitMs = Math.max(0, Math.min(this.pollMs, windowEndsAt - Date.now()));
        receivedAt = Date.now();
        deliveries = await this.receive(driver, queues, permit.allowed, waitMs);
        if (deliveries.length < permit.allowed)
          this.giveBack(permit.allowed - deliveries.length, windowEndsAt);
        failures = 0;
      } catch (error) {
        if (this.stopping.signal.aborted) break;
        this.ctx.emit('error', asError(error));
        await abortableDelay(retryDelayMs(++failures), this.stopping.signal);
        continue;
      }
      if (Date.now() >= windowEndsAt && deliveries.length > 0)
        await this.admitLate(driver, deliveries, receivedAt);
      else for (const delivery of deliveries) this.track(this.handle(driver, delivery, receivedAt));
    }
  }

  /** Return permits a receive did not use to the store-based limiter (a no-op without one). */
  private giveBack(count: number, windowEndsAt: number): void {
    if (!this.ctx.rateLimiter || this.nativeLimit || windowEndsAt === Number.POSITIVE_INFINITY) return;
    this.ctx.rateLimiter
      .release(count, windowEndsAt)
      .catch((error) => this.ctx.emit('error', asError(error)));
  }

  /** Permits for up to `wanted` jobs in the current rate-limit window (waits for the next window when 0). */
  private async permits(wanted: number): Promise<{ allowed: number; windowEndsAt: number }> {
    if (!this.ctx.rateLimiter || this.nativeLimit)
      return { allowed: wanted, windowEndsAt: Number.POSITIVE_INFINITY };
    const { granted, windowEndsAt } = await this.ctx.rateLimiter.acquire(wanted);
    if (granted === 0) await abortableDelay(Math.max(1, windowEndsAt - Date.now()), this.stopping.signal);
    return { allowed: granted, windowEndsAt };
  }

  /**
   * Deliveries that arrived after their permits' window ended start only on permits of the window
   * they start in; the others wait for later windows, their locks kept. On shutdown the rest are
   * started anyway (they are already held: draining them beats redelivering them as a new attempt).
   */
  private async admitLate(driver: Driver, deliveries: Delivery[], receivedAt: number): Promise<void> {
    const waiting = [...deliveries];
    let lockedAt = receivedAt;
    while (waiting.length > 0) {
      if (this.stopping.signal.aborted || !this.ctx.rateLimiter) break;
      const { granted, windowEndsAt } = await this.ctx.rateLimiter.acquire(waiting.length);
      for (const delivery of waiting.splice(0, granted)) this.track(this.handle(driver, delivery, lockedAt));
      if (waiting.length === 0) return;
      lockedAt = await this.holdUntil(waiting, windowEndsAt);
    }
    for (const delivery of waiting) this.track(this.handle(driver, delivery, lockedAt));
  }

  /**
   * Wait until `until` with `held` deliveries unstarted, renewing their locks every half lock so that
   * none expires however long the window (a rate-limit window may be far longer than the lock).
   * Resolves with when the locks were last renewed.
   */
  private async holdUntil(held: readonly Delivery[], until: number): Promise<number> {
    let renewedAt = Date.now();
    const renew = () => {
      renewedAt = Date.now();
      for (const delivery of held) delivery.extendLock?.(this.lockMs).catch(() => undefined);
    };
    renew();
    for (;;) {
      const left = until - Date.now();
      if (left <= 0 || this.stopping.signal.aborted) return renewedAt;
      await abortableDelay(Math.max(1, Math.min(left, this.lockMs / 2)), this.stopping.signal);
      if (until - Date.now() > 0) renew();
    }
  }

  /**
   * The job's timeout: aborts its signal with a JobTimeoutError and rejects `elapsed`, so the attempt
   * fails even when the handler ignores the signal (its code goes on, but the lock and slot are freed).
   */
  private deadline(
    job: Job<T>,
    controller: AbortController,
    timeoutMs: number,
  ): { elapsed: Promise<never>; timer: SafeTimer } {
    let timer: SafeTimer | undefined;
    const elapsed = new Promise<never>((_, reject) => {
      timer = safeTimeout(() => {
        const error = new JobTimeoutError(job.id, timeoutMs);
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    });
    elapsed.catch(() => undefined);
    return { elapsed, timer: timer as SafeTimer };
  }

  /** Record a state change; a store failure is reported, never fatal to the job. */
  private record(
    id: string,
    patch: Parameters<NonNullable<QueueContext<T>['tracker']>['update']>[1],
  ): Promise<void> {
    if (this.nativeJobs) return Promise.resolve();
    return (this.ctx.tracker?.update(id, patch) ?? Promise.resolve()).catch((error) =>
      this.ctx.emit('error', asError(error)),
    );
  }

  /** Fan-out bookkeeping for chunk jobs (before the chunk is settled, so a crash repeats it). */
  private async chunkFinished(
    driver: Driver,
    delivery: Delivery,
    outcome: { ok: boolean; result?: unknown; error?: string; reason?: string },
  ): Promise<void> {
    const parent = delivery.headers[FANOUT_PARENT];
    if (parent === undefined || driver.workflows?.fanOut) return; // native fan-outs are the broker's
    await finishChunk(
      this.ctx,
      this.ctx.store,
      driver,
      parent,
      delivery.headers[FANOUT_INDEX],
      outcome,
      this.ctx.resultTtlMs,
      delivery.id,
    );
  }

  /**
   * Highest priority band first, without waiting; long-poll only the lowest. A band found empty is
   * not asked again for BAND_RECHECK_MS: nine empty round trips per turn would dominate fast handlers.
   */
  private async receive(
    driver: Driver,
    queues: readonly string[],
    max: number,
    waitMs = this.pollMs,
  ): Promise<Delivery[]> {
    const now = Date.now();
    for (const [index, queue] of queues.entries()) {
      const last = index === queues.length - 1;
      if (!last && (this.bandEmptyUntil.get(queue) ?? 0) > now) continue;
      const got = await driver.receive(queue, {
        max,
        waitMs: last ? waitMs : 0,
        lockMs: this.lockMs,
        signal: this.stopping.signal,
      });
      if (got.length > 0 || last) return got;
      this.bandEmptyUntil.set(queue, now + BAND_RECHECK_MS);
    }
    return [];
  }

  private track(work: Promise<void>): void {
    const tracked = work
      .catch((error) => this.ctx.emit('error', asError(error)))
      .finally(() => {
        this.inflight.delete(tracked);
        this.wakeSlots();
      });
    this.inflight.add(tracked);
  }

  /** Hold `delivery` (its lock renewed) from receipt until it is settled. */
  private async handle(driver: Driver, delivery: Delivery, receivedAt: number): Promise<void> {
    const active = this.hold(driver, delivery, receivedAt);
    try {
      await this.dispatch(driver, delivery, active);
    } finally {
      this.letGo(active);
    }
  }

  private async dispatch(driver: Driver, delivery: Delivery, active: ActiveJob): Promise<void> {
    const info = attemptInfo(delivery, this.ctx.defaults.maxAttempts);
    const now = Date.now();
    if (info.invalid !== undefined) {
      const name = delivery.name ?? delivery.headers[H.name] ?? 'default';
      return this.deadLetter(driver, delivery, name, { reason: 'invalid-headers', error: info.invalid });
    }
    if (info.notBefore > now) return this.park(driver, active, info, info.notBefore - now);
    const name = delivery.name ?? delivery.headers[H.name] ?? 'default';
    const dead = (dl: DeadLetterInfo, job?: Job<T>) =>
      this.deadLetter(driver, delivery, name, { ...dl, attempts: info.attempt }, job);

    // Brokers that only flag redelivery report every redelivery as 2: make the count persistent by
    // re-sending a copy with the attempt bumped before any handler runs (the copy arrives as delivery 1).
    if (driver.capabilities.deliveryCount === 'flag' && delivery.deliveryCount > 1) {
      this.ctx.metrics.stalled++;
      this.ctx.otel.count('stalled');
      if (info.attempt <= info.maxAttempts) return this.resend(driver, active, 0, info.attempt);
    }
    if (info.attempt > info.maxAttempts) {
      // Refused before running: the attempts made are the ones before this delivery.
      return this.deadLetter(driver, delivery, name, {
        reason: 'max-attempts',
        error: `Delivered ${info.attempt} times without completing (worker crashed or lock lost)`,
        attempts: Math.min(info.attempt - 1, info.maxAttempts),
      });
    }
    let data: T;
    try {
      data = this.ctx.codec.decode(delivery.body);
    } catch (error) {
      return dead({ reason: 'undecodable', error: errorMessage(error) });
    }
    if (this.ctx.schema) {
      try {
        data = await validateWith(this.ctx.schema, data);
      } catch (error) {
        return dead({ reason: 'invalid-payload', error: errorMessage(error) });
      }
    }
    const job: Job<T> = {
      id: delivery.id,
      name,
      data,
      attempt: info.attempt,
      maxAttempts: info.maxAttempts,
      priority: jobPriority(driver, delivery),
      headers: userHeaders(delivery.headers),
      enqueuedAt: enqueuedAt(delivery, now),
      raw: delivery.raw,
    };
    await this.runHandler(driver, active, job, info);
  }

  private async runHandler(driver: Driver, active: ActiveJob, job: Job<T>, info: AttemptInfo): Promise<void> {
    const { delivery, controller } = active;
    const followUps: BatchEntry<T>[] = [];
    const handlerCtx: HandlerContext = {
      signal: controller.signal,
      extendLock: active.extend,
      progress: async (value) => {
        this.ctx.emit('progress', job, value);
        if (this.nativeJobs) await delivery.progress?.(value);
        else await this.record(job.id, { progress: value });
      },
      enqueue: (name, data, options) => {
        followUps.push({ name, data: data as T, ...(options ? { options } : {}) });
      },
    };
    void this.record(job.id, {
      id: job.id,
      queue: this.ctx.name,
      name: job.name,
      state: 'active',
      attempts: job.attempt,
      maxAttempts: job.maxAttempts,
      startedAt: Date.now(),
    });
    if (delivery.deliveryCount > 1) {
      this.ctx.metrics.stalled++;
      this.ctx.otel.count('stalled');
    }
    this.ctx.emit('active', job);
    let result: unknown;
    const startedAt = performance.now();
    const deadline =
      this.timeoutMs === undefined ? undefined : this.deadline(job, controller, this.timeoutMs);
    active.inHandler = true;
    try {
      result = await withProcessSpan(this.ctx.name, driver.provider, job, delivery.headers, async () => {
        const running = Promise.resolve(this.handler(job, handlerCtx));
        return deadline ? Promise.race([running, deadline.elapsed]) : running;
      });
    } catch (thrown) {
      const took = performance.now() - startedAt;
      this.ctx.metrics.observeDuration(took);
      this.ctx.metrics.failed++;
      this.ctx.otel.duration(took, 'failed');
      this.ctx.otel.count('failed');
      // Aborted by a forced close: leave the job unsettled, the broker delivers it again.
      if (this.forced.signal.aborted) return;
      return this.failed(driver, active, job, info, asError(thrown));
    } finally {
      active.inHandler = false;
      deadline?.timer.clear();
    }
    // Force-closed while it ran: its result is not settled either; the broker delivers the job again.
    if (this.forced.signal.aborted) return;
    const took = performance.now() - startedAt;
    this.ctx.metrics.observeDuration(took);
    this.ctx.otel.duration(took, 'completed');
    try {
      await this.chunkFinished(driver, delivery, { ok: true, result });
    } catch (bookkeeping) {
      // The store failed after the handler ran: settle the delivery as a failed attempt rather than leave it
      // unsettled (a connection-bound broker would never hand it out again). The retry recounts the chunk.
      this.ctx.metrics.failed++;
      this.ctx.emit('error', asError(bookkeeping));
      return this.failed(driver, active, job, info, asError(bookkeeping));
    }
    if (followUps.length > 0) await this.completeWithFollowUps(driver, delivery, job, followUps, result);
    else await delivery.ack(result);
    await this.record(job.id, { state: 'completed', result, finishedAt: Date.now() });
    this.ctx.metrics.completed++;
    this.ctx.otel.count('completed');
    this.ctx.emit('completed', job, result);
  }

  /**
   * Track a held delivery from receipt to settlement. Its lock counts from when it was taken
   * (`lockedUntil`, else the start of the receive call), so a delivery handed out late is renewed early.
   */
  private hold(driver: Driver, delivery: Delivery, receivedAt: number): ActiveJob {
    const controller = new AbortController();
    let estimate = receivedAt + this.lockMs;
    const active: ActiveJob = {
      delivery,
      controller,
      expiresAt: () => delivery.lockedUntil ?? estimate,
      span: Math.max(1, (delivery.lockedUntil ?? estimate) - receivedAt),
      renewing: false,
      renewedAt: 0,
      inHandler: false,
      extend: async () => {
        if (!delivery.extendLock) return;
        const startedAt = Date.now();
        active.renewing = true;
        active.renewedAt = startedAt;
        try {
          await delivery.extendLock(this.lockMs);
          estimate = startedAt + this.lockMs;
          active.span = Math.max(1, active.expiresAt() - startedAt);
          this.ctx.metrics.lockExtensions++;
          this.ctx.otel.count('lock-extended');
        } catch (error) {
          const lost = error instanceof LockLostError ? error : new LockLostError(errorMessage(error));
          this.lockLost(active, lost);
          throw lost;
        } finally {
          active.renewing = false;
          this.armHeartbeat();
        }
      },
    };
    this.running.add(active);
    if (driver.capabilities.lockRenewal) this.armHeartbeat();
    return active;
  }

  /** Count a lost lock once and abort the job's signal with it. */
  private lockLost(active: ActiveJob, error: LockLostError): void {
    if (active.controller.signal.aborted) return;
    this.ctx.metrics.locksLost++;
    this.ctx.otel.count('lock-lost');
    active.controller.abort(error);
  }

  /** When `job`'s lock is due for renewal, or Infinity when it is not renewed by the heartbeat. */
  private renewalDueAt(job: ActiveJob): number {
    if (job.renewing || job.controller.signal.aborted || !job.delivery.extendLock)
      return Number.POSITIVE_INFINITY;
    // The floor keeps a driver whose lock does not seem to move from being renewed in a tight loop.
    return Math.max(job.expiresAt() - job.span * (1 - RENEW_AFTER), job.renewedAt + MIN_RENEW_GAP_MS);
  }

  /** One consumer-wide timer, set for the next renewal due among held deliveries. */
  private armHeartbeat(): void {
    // A force-closed consumer abandons its jobs: no more renewals, so the broker can redeliver them.
    if (this.forced.signal.aborted) {
      this.stopHeartbeat();
      return;
    }
    let next = Number.POSITIVE_INFINITY;
    for (const job of this.running) next = Math.min(next, this.renewalDueAt(job));
    if (next === this.heartbeatAt && this.heartbeat) return;
    this.stopHeartbeat();
    if (next === Number.POSITIVE_INFINITY) return;
    this.heartbeatAt = next;
    this.heartbeat = safeTimeout(() => this.beat(), next - Date.now()).unref();
  }

  private beat(): void {
    this.heartbeat = undefined;
    this.heartbeatAt = Number.POSITIVE_INFINITY;
    if (this.forced.signal.aborted) return;
    const now = Date.now();
    for (const job of this.running) {
      if (this.renewalDueAt(job) > now) continue;
      job.extend().catch((error) => {
        // A renewal that races the settlement fails harmlessly (the settle call reports a real loss).
        if (job.inHandler) this.ctx.emit('error', asError(error));
      });
    }
    this.armHeartbeat();
  }

  private stopHeartbeat(): void {
    this.heartbeat?.clear();
    this.heartbeat = undefined;
    this.heartbeatAt = Number.POSITIVE_INFINITY;
  }

  private letGo(active: ActiveJob): void {
    this.running.delete(active);
    if (this.running.size === 0) this.stopHeartbeat();
  }

  /** Follow-ups and the parent's ack: atomically where the driver can, else send first, then ack. */
  private async completeWithFollowUps(
    driver: Driver,
    delivery: Delivery,
    job: Job<T>,
    entries: readonly BatchEntry<T>[],
    result: unknown,
  ): Promise<void> {
    const dedup = driver.capabilities.dedup;
    const keyed = entries.map((entry, index) => {
      const key = `${job.id}-next-${index}`;
      const options = entry.options ?? {};
      return {
        ...entry,
        options: {
          ...options,
          headers: { ...options.headers, 'queuekit-chain-key': key },
          ...(dedup && options.jobId === undefined ? { jobId: key } : {}),
        },
      };
    });
    if (delivery.ackWith) {
      const prepared = await prepareEntries(this.ctx, driver, keyed);
      const byQueue = new Map<string, OutgoingMessage[]>();
      for (const { queue, message } of prepared) byQueue.set(queue, [...(byQueue.get(queue) ?? []), message]);
      await delivery.ackWith(
        [...byQueue].map(([queue, messages]) => ({ queue, messages })),
        result,
      );
      for (const { span } of prepared) span?.end();
      this.ctx.metrics.sent += prepared.length;
      return;
    }
    await sendEntries(this.ctx, keyed);
    await delivery.ack(result);
  }

  private async failed(
    driver: Driver,
    active: ActiveJob,
    job: Job<T>,
    info: AttemptInfo,
    error: Error,
  ): Promise<void> {
    const { delivery } = active;
    this.ctx.emit('failed', job, error);
    if (error instanceof UnrecoverableError) {
      return this.deadLetter(
        driver,
        delivery,
        job.name,
        { reason: 'unrecoverable', error: error.message, attempts: job.attempt, ...stackOf(error) },
        job,
      );
    }
    if (error instanceof RetryAfterError && !(error.countsAsAttempt && job.attempt >= job.maxAttempts)) {
      this.ctx.emit('retrying', job, error, boundedRetryDelay(error.delayMs));
      this.ctx.metrics.retried++;
      this.ctx.otel.count('retried');
      await this.record(job.id, { state: 'retrying', error: error.message });
      const delayMs = boundedRetryDelay(error.delayMs);
      const next = error.countsAsAttempt ? job.attempt + 1 : job.attempt;
      if (this.keepsOrderInPlace(driver, active, delayMs))
        return this.retryInPlace(driver, active, job, info, delayMs, next);
      return this.resend(driver, active, delayMs, next);
    }
    if (job.attempt >= job.maxAttempts) {
      return this.deadLetter(
        driver,
        delivery,
        job.name,
        { reason: 'max-attempts', error: error.message, attempts: job.attempt, ...stackOf(error) },
        job,
      );
    }
    // A message's own backoff is anyone's to forge: the queue's wins unless the consumer trusts messages.
    const policy = this.trustMessageBackoff
      ? (info.backoff ?? this.ctx.defaults.backoff)
      : (this.ctx.defaults.backoff ?? info.backoff);
    const delayMs = boundedRetryDelay(backoffDelay(policy, job.attempt));
    this.ctx.emit('retrying', job, error, delayMs);
    this.ctx.metrics.retried++;
    this.ctx.otel.count('retried');
    await this.record(job.id, { state: 'retrying', error: error.message });
    if (delivery.release && delayMs <= hopLimit(driver.capabilities, this.ctx.maxDelayHop)) {
      return delivery.release(delayMs, { error: error.message, ...stackOf(error) });
    }
    if (this.keepsOrderInPlace(driver, active, delayMs))
      return this.retryInPlace(driver, active, job, info, delayMs, job.attempt + 1);
    return this.resend(driver, active, delayMs, job.attempt + 1);
  }

  /**
   * A re-sent copy would queue behind the later jobs of its ordering key. Where the broker orders keys,
   * a keyed retry of up to MAX_IN_PLACE_RETRY_MS instead keeps the delivery (and so the key) locked,
   * waits, and runs the handler again in place: the key's later jobs wait, as ordering promises.
   */
  private keepsOrderInPlace(driver: Driver, active: ActiveJob, delayMs: number): boolean {
    const { delivery } = active;
    if (delivery.orderingKey === undefined || !driver.capabilities.ordering) return false;
    if (delayMs > MAX_IN_PLACE_RETRY_MS || active.controller.signal.aborted) return false;
    if (driver.capabilities.lockRenewal && delivery.extendLock) return true;
    const left = (delivery.lockedUntil ?? Number.POSITIVE_INFINITY) - Date.now();
    return left !== Number.POSITIVE_INFINITY && left > delayMs + LOCK_MARGIN_MS * 2;
  }

  private async retryInPlace(
    driver: Driver,
    active: ActiveJob,
    job: Job<T>,
    info: AttemptInfo,
    delayMs: number,
    attempt: number,
  ): Promise<void> {
    await abortableDelay(delayMs, this.forced.signal);
    // Force-closed or lock lost while waiting: leave it to the broker's redelivery.
    if (this.forced.signal.aborted || active.controller.signal.aborted) return;
    return this.runHandler(driver, active, { ...job, attempt }, info);
  }

  /**
   * Re-send a copy (same id, no dedup) due after `delayMs` with attempt `attempt`, then ack the original.
   * Only while the lock is held: a copy sent for a lost lock would run beside the broker's redelivery.
   */
  private async resend(driver: Driver, active: ActiveJob, delayMs: number, attempt: number): Promise<void> {
    const { delivery } = active;
    if (!(await this.holdsLock(driver, active))) return;
    const headers: Record<string, string> = { ...delivery.headers, [H.attempt]: String(attempt) };
    if (delayMs > 0) headers[H.notBefore] = String(Date.now() + delayMs);
    else delete headers[H.notBefore];
    await this.replaceWithCopy(driver, active, headers, delayMs);
  }

  /** A delayed job arrived before its time (a hop): put it back for the remaining time. */
  private async park(
    driver: Driver,
    active: ActiveJob,
    info: AttemptInfo,
    remainingMs: number,
  ): Promise<void> {
    const { delivery } = active;
    this.ctx.emit('delayed', { id: delivery.id, remainingMs });
    if (!(await this.holdsLock(driver, active))) return;
    const headers = { ...delivery.headers, [H.attempt]: String(info.attempt) };
    await this.replaceWithCopy(driver, active, headers, remainingMs);
  }

  /**
   * Send the copy, then ack the original: in one atomic step where the driver offers it (`ackWith` with
   * `workflows.atomicFollowUps`, and no broker-kept job records that an ack would mark completed), so a
   * lost lock leaves neither rather than both.
   */
  private async replaceWithCopy(
    driver: Driver,
    active: ActiveJob,
    headers: Record<string, string>,
    delayMs: number,
  ): Promise<void> {
    const { delivery } = active;
    const { queue, message } = this.copyOf(driver, delivery, headers, delayMs);
    if (delivery.ackWith && driver.workflows?.atomicFollowUps && !driver.workflows.jobs) {
      try {
        await delivery.ackWith([{ queue, messages: [message] }]);
      } catch (error) {
        if (!(error instanceof LockLostError)) throw error;
        // Nothing was sent: the broker redelivers the original, which carries the next attempt.
        this.lockLost(active, error);
      }
      return;
    }
    await driver.send(queue, [message]);
    await this.ackCopied(delivery);
  }

  /**
   * Whether this consumer still holds the delivery's lock, renewed where the driver can. When it does
   * not, the broker redelivers the original, and its delivery count carries the next attempt.
   */
  private async holdsLock(driver: Driver, active: ActiveJob): Promise<boolean> {
    const { delivery } = active;
    const left = (delivery.lockedUntil ?? Number.POSITIVE_INFINITY) - Date.now();
    if (left > 0 && driver.capabilities.lockRenewal && delivery.extendLock) {
      return active.extend().then(
        () => true,
        () => false,
      );
    }
    if (left > LOCK_MARGIN_MS) return true;
    this.lockLost(active, new LockLostError(`Lock of job ${delivery.id} ran out before its retry was sent`));
    return false;
  }

  /** Ack an original whose copy was sent; a refusal means two live copies, which is reported and counted. */
  private async ackCopied(delivery: Delivery): Promise<void> {
    try {
      await delivery.ack();
    } catch (error) {
      if (!(error instanceof LockLostError)) throw error;
      this.ctx.metrics.locksLost++;
      this.ctx.otel.count('lock-lost');
      this.ctx.emit(
        'error',
        new LockLostError(
          `Lock of job ${delivery.id} was lost after its copy was sent: the broker may deliver it twice`,
        ),
      );
    }
  }

  /** A copy of `delivery` (same id, no dedup) with `headers`, due after `delayMs` (or its first hop). */
  private copyOf(
    driver: Driver,
    delivery: Delivery,
    headers: Record<string, string>,
    delayMs: number,
  ): { queue: string; message: OutgoingMessage } {
    const hop = Math.min(delayMs, hopLimit(driver.capabilities, this.ctx.maxDelayHop));
    const queue = this.physicalQueueOf(driver, delivery);
    return {
      queue,
      message: {
        id: delivery.id,
        name: delivery.name ?? headers[H.name] ?? 'default',
        body: delivery.body,
        headers,
        ...(hop > 0 ? { delayMs: hop } : {}),
        ...(delivery.priority !== undefined && driver.capabilities.priority === 'native'
          ? { priority: delivery.priority }
          : {}),
        ...(delivery.orderingKey === undefined ? {} : { orderingKey: delivery.orderingKey }),
      },
    };
  }

  private physicalQueueOf(driver: Driver, delivery: Delivery): string {
    const priority = intHeader(delivery.headers, H.priority, 0);
    const queues = physicalQueues(driver, this.ctx.name, this.ctx.strict);
    return queues.length > 1 && priority > 0 ? (queues[9 - priority] ?? this.ctx.name) : this.ctx.name;
  }

  private async deadLetter(
    driver: Driver,
    delivery: Delivery,
    name: string,
    uncapped: DeadLetterInfo,
    job?: Job<T>,
  ): Promise<void> {
    // Error text is the handler's (or the message's): bounded before it reaches the broker, store or events.
    const info: DeadLetterInfo = {
      ...uncapped,
      ...(uncapped.error === undefined ? {} : { error: capErrorText(uncapped.error) }),
      ...(uncapped.stack === undefined ? {} : { stack: capErrorText(uncapped.stack) }),
    };
    await this.chunkFinished(driver, delivery, {
      ok: false,
      reason: info.reason,
      ...(info.error === undefined ? {} : { error: info.error }),
    });
    await delivery.deadLetter(info);
    this.ctx.metrics.deadLettered++;
    this.ctx.otel.count('dead-lettered');
    await this.record(delivery.id, {
      id: delivery.id,
      queue: this.ctx.name,
      name,
      state: 'failed',
      reason: info.reason,
      ...(info.error === undefined ? {} : { error: info.error }),
      ...(info.attempts === undefined ? {} : { attempts: info.attempts }),
      finishedAt: Date.now(),
    });
    this.ctx.emit('dead-lettered', {
      id: delivery.id,
      name,
      reason: info.reason,
      ...(info.error === undefined ? {} : { error: info.error }),
      ...(job ? { job } : {}),
    });
  }
}

/** 0-9: the broker's priority where it is native, else the `qk-priority` header (emulated bands). */
function jobPriority(driver: Driver, delivery: Delivery): number {
  const header = intHeader(delivery.headers, H.priority, 0);
  const value = driver.capabilities.priority === 'native' ? (delivery.priority ?? header) : header;
  return Math.min(9, Math.max(0, value));
}

/** When the job was first sent: the `qk-enqueued-at` header when it is a valid time, else the broker's. */
function enqueuedAt(delivery: Delivery, now: number): Date {
  const fallback = delivery.enqueuedAt?.getTime() ?? now;
  const at = new Date(intHeader(delivery.headers, H.enqueuedAt, fallback));
  return Number.isNaN(at.getTime()) ? new Date(fallback) : at;
}

/** A retry delay within the supported range, never below the minimum (no message can make a worker spin). */
function boundedRetryDelay(delayMs: number): number {
  if (!Number.isFinite(delayMs)) return HEADER_BOUNDS.minRetryDelayMs;
  return Math.min(HEADER_BOUNDS.maxDelayMs, Math.max(HEADER_BOUNDS.minRetryDelayMs, Math.round(delayMs)));
}

/** Wait before the next try after `failures` transport failures in a row: 200 ms doubling to 5 s. */
function retryDelayMs(failures: number): number {
  return Math.min(5_000, 100 * 2 ** Math.min(failures, 6));
}

/** The error's stack, for drivers that store it with a retry or dead letter. */
function stackOf(error: Error): { stack?: string } {
  return typeof error.stack === 'string' ? { stack: capErrorText(error.stack) } : {};
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(errorMessage(value));
}
