import type { Capabilities, Delivery } from '../driver.js';
import { errorMessage, JobTimeoutError } from '../errors.js';
import { type MessageView, type ReadMessageOptions, readMessage } from '../driver-kit/read-message.js';
import { asError } from '../observability/report.js';
import { type StandardSchemaV1, validateWith } from '../schema.js';
import { type AttemptInfo, attemptInfo } from '../semantics/attempts.js';
import { admit } from '../semantics/outcome.js';
import { traced, withProcessSpan } from '../observability/telemetry.js';
import { type SafeTimer, safeTimeout } from '../timers.js';
import type { Handler, Job } from '../types.js';
import { completeWithFollowUps } from '../workflows/chains.js';
import { chunkFinished, deadLetter, isChunk } from './dead-letter.js';
import type { HeldDelivery } from './heartbeat.js';
import { JobContext } from './job-context.js';
import { type ConsumerScope, recordJob, recording, reportTo } from './scope.js';
import { Settler } from './settle.js';

/**
 * One delivery from receipt to settlement: admission (early, over its attempts, a flagged redelivery),
 * decoding and validation, the handler under its timeout and span, then the outcome.
 */
export class JobRunner<T> {
  private readonly settler: Settler<T>;
  /** The driver's capabilities and name, read once (through the guard, every read is a trap). */
  private readonly caps: Capabilities;
  private readonly provider: string;
  private readonly readOptions: ReadMessageOptions;

  constructor(
    private readonly scope: ConsumerScope<T>,
    private readonly handler: Handler<T>,
    private readonly timeoutMs: number | undefined,
  ) {
    this.settler = new Settler(scope);
    this.caps = scope.driver.capabilities;
    this.provider = scope.driver.provider;
    this.readOptions = { priority: this.caps.priority };
  }

  /** Hold `delivery`, received from `queue` (its lock renewed), from receipt until it is settled. */
  async handle(delivery: Delivery, queue: string, receivedAt: number): Promise<void> {
    const held = this.scope.heartbeat.hold(delivery, queue, receivedAt, this.caps.lockRenewal);
    try {
      await this.dispatch(held);
    } finally {
      this.scope.heartbeat.letGo(held);
    }
  }

  /** Not async: the common path hands back `run`'s promise without a frame of its own (it runs once per job). */
  private dispatch(held: HeldDelivery): Promise<void> {
    const { delivery } = held;
    const { ctx } = this.scope;
    const caps = this.caps;
    const info = attemptInfo(delivery, ctx.defaults.maxAttempts);
    const now = Date.now();
    const view = readMessage(delivery, this.readOptions);
    const { name } = view;
    const admission = admit(info, delivery.deliveryCount, caps, now);
    const flaggedRedelivery = caps.deliveryCount === 'flag' && delivery.deliveryCount > 1;
    if (
      flaggedRedelivery &&
      (admission.kind === 'recount' ||
        (admission.kind === 'dead-letter' && admission.reason === 'max-attempts'))
    )
      reportTo(this.scope, { type: 'stalled' });
    switch (admission.kind) {
      case 're-park':
        return this.settler.park(held, info.attempt, admission.remainingMs);
      case 'recount':
        return this.settler.resend(held, 0, admission.attempt);
      case 'dead-letter': {
        const { reason, error, attempts } = admission;
        return deadLetter(this.scope, delivery, name, {
          reason,
          error,
          ...(attempts === undefined ? {} : { attempts }),
        });
      }
    }
    let data: T;
    try {
      data = ctx.codec.decode(delivery.body);
    } catch (error) {
      return this.dead(held, view, info, 'undecodable', error);
    }
    if (ctx.schema) return this.validateThenRun(held, view, info, ctx.schema, data, now);
    return this.run(held, jobOf(delivery, view, info, data, now), info);
  }

  private async validateThenRun(
    held: HeldDelivery,
    view: MessageView,
    info: AttemptInfo,
    schema: StandardSchemaV1<unknown, T>,
    decoded: T,
    now: number,
  ): Promise<void> {
    let data: T;
    try {
      data = await validateWith(schema, decoded);
    } catch (error) {
      return this.dead(held, view, info, 'invalid-payload', error);
    }
    return this.run(held, jobOf(held.delivery, view, info, data, now), info);
  }

  /** Dead-letter a delivery whose payload cannot be run (undecodable, or refused by the schema). */
  private dead(held: HeldDelivery, view: MessageView, info: AttemptInfo, reason: string, error: unknown) {
    return deadLetter(this.scope, held.delivery, view.name, {
      reason,
      error: errorMessage(error),
      attempts: info.attempt,
    });
  }

  private async run(held: HeldDelivery, job: Job<T>, info: AttemptInfo): Promise<void> {
    const { delivery } = held;
    const { ctx, driver, forced } = this.scope;
    const handlerCtx = new JobContext(this.scope, held, job);
    if (recording(this.scope))
      void recordJob(this.scope, job.id, {
        id: job.id,
        queue: ctx.name,
        name: job.name,
        state: 'active',
        attempts: job.attempt,
        maxAttempts: job.maxAttempts,
        startedAt: Date.now(),
      });
    if (delivery.deliveryCount > 1) reportTo(this.scope, { type: 'stalled' });
    reportTo(this.scope, { type: 'active', job });
    let result: unknown;
    const startedAt = performance.now();
    const deadline = this.timeoutMs === undefined ? undefined : jobDeadline(job, held, this.timeoutMs);
    held.inHandler = true;
    try {
      // Without OpenTelemetry loaded, or with nothing registered behind it, there is no span to open: the
      // handler runs straight away (no closure, no async wrapper per job).
      result = traced()
        ? await withProcessSpan(ctx.name, this.provider, job, delivery.headers, () =>
            this.call(job, handlerCtx, deadline),
          )
        : await this.call(job, handlerCtx, deadline);
    } catch (thrown) {
      reportTo(this.scope, { type: 'handled', outcome: 'failed', durationMs: performance.now() - startedAt });
      // Aborted by a forced close: leave the job unsettled, the broker delivers it again.
      if (forced.aborted) return;
      return this.settler.failed(held, job, info, asError(thrown), (next) => this.run(held, next, info));
    } finally {
      held.inHandler = false;
      deadline?.timer.clear();
    }
    // Force-closed while it ran: its result is not settled either; the broker delivers the job again.
    if (forced.aborted) return;
    reportTo(this.scope, {
      type: 'handled',
      outcome: 'completed',
      durationMs: performance.now() - startedAt,
    });
    try {
      if (isChunk(delivery)) await chunkFinished(this.scope, delivery, { ok: true, result });
    } catch (bookkeeping) {
      // The store failed after the handler ran: settle the delivery as a failed attempt rather than leave it
      // unsettled (a connection-bound broker would never hand it out again). The retry recounts the chunk.
      reportTo(this.scope, { type: 'handled', outcome: 'failed' });
      reportTo(this.scope, { type: 'error', error: bookkeeping });
      return this.settler.failed(held, job, info, asError(bookkeeping), (next) => this.run(held, next, info));
    }
    const { followUps } = handlerCtx;
    if (followUps && followUps.length > 0)
      await completeWithFollowUps(ctx, driver, delivery, job, followUps, result);
    else await delivery.ack(result);
    if (recording(this.scope))
      await recordJob(this.scope, job.id, { state: 'completed', result, finishedAt: Date.now() });
    reportTo(this.scope, { type: 'completed', job, result });
  }

  /** The handler, bounded by the job's timeout when it has one. */
  private call(job: Job<T>, handlerCtx: JobContext<T>, deadline: Deadline | undefined): Promise<unknown> {
    const running = Promise.resolve(this.handler(job, handlerCtx));
    return deadline ? Promise.race([running, deadline.elapsed]) : running;
  }
}

type Deadline = ReturnType<typeof jobDeadline>;

/** The job a handler sees. */
function jobOf<T>(delivery: Delivery, view: MessageView, info: AttemptInfo, data: T, now: number): Job<T> {
  return {
    id: delivery.id,
    name: view.name,
    data,
    attempt: info.attempt,
    maxAttempts: info.maxAttempts,
    priority: view.priority,
    headers: view.headers,
    enqueuedAt: view.enqueuedAt ?? new Date(now),
    raw: delivery.raw,
  };
}

/**
 * The job's timeout: aborts its signal with a JobTimeoutError and rejects `elapsed`, so the attempt
 * fails even when the handler ignores the signal (its code goes on, but the lock and slot are freed).
 */
function jobDeadline<T>(
  job: Job<T>,
  held: Pick<HeldDelivery, 'abort'>,
  timeoutMs: number,
): { elapsed: Promise<never>; timer: SafeTimer } {
  let timer: SafeTimer | undefined;
  const elapsed = new Promise<never>((_, reject) => {
    timer = safeTimeout(() => {
      const error = new JobTimeoutError(job.id, timeoutMs);
      held.abort(error);
      reject(error);
    }, timeoutMs);
  });
  elapsed.catch(() => undefined);
  return { elapsed, timer: timer as SafeTimer };
}
