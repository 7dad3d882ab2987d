import {
  AuthenticationError,
  BrokerUnavailableError,
  type Capabilities,
  DRIVER_API_VERSION,
  type DeadLetteredMessage,
  type Delivery,
  type Driver,
  type DriverFactoryOptions,
  type DriverStats,
  type OutgoingMessage,
  QueueClosedError,
  QueuekitError,
  type ReceivedMessage,
  type ReceiveOptions,
  type RedriveOptions,
  Scrubber,
} from '@queuekit/core';
import type { Job, Queue } from 'bullmq';
import type { Redis, RedisOptions } from 'ioredis';
import { BullDelivery } from './delivery.js';
import { FanOutFlows } from './fanout.js';
import { isAuthFailure, toQueuekitError } from './errors.js';
import {
  DEAD_LETTER_FIELD,
  type DeadLetterRecord,
  fromBullJob,
  type JobPlacement,
  type JobSettings,
  parseDeadLetterRecord,
  redriveMessage,
  toBullJob,
} from './job-mapping.js';
import { type BullmqDriverOptions, metricsOption, parseRedisUrl, validateOptions } from './options.js';
import { INDEX_SLACK_MS, indexKey, placeMessages } from './placement.js';
import { QueueReceiver } from './receiver.js';
import { safeRedis } from './secrets.js';
import { SendQueue } from './send-queue.js';
import { BullmqWorkflows } from './workflows.js';

const DEFAULT_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
/** Longest native delay declared; longer ones are split into hops by the core. */
const MAX_DELAY_MS = 365 * 24 * 60 * 60 * 1000;
const MAX_BATCH = 1000;
const DEFAULT_LOCK_MS = 30_000;
const PAGE = 500;
/** Default time completed jobs are kept for `getJob` (the core's default result TTL). */
const DEFAULT_KEEP_COMPLETED_MS = 24 * 60 * 60 * 1000;

type RateLimit = { readonly max: number; readonly duration: number };

/**
 * queuekit driver for BullMQ on Redis.
 *
 * - Sending uses `Queue.add` / `Queue.addBulk` with BullMQ's own job id dedup, delay and priority.
 * - Receiving uses BullMQ's manual processing: a processor-less `Worker` per consumed queue,
 *   `getNextJob` under a per-job lock token, `moveToCompleted`, `moveToDelayed` (release),
 *   `extendLock`, and the stalled-job check that returns jobs whose lock expired.
 * - Dead letters are BullMQ's failed set, with queuekit's reason and attempt count stored beside
 *   `failedReason`.
 * - `workflows`: recurring jobs on BullMQ job schedulers, rate limits on BullMQ's limiter, and
 *   `getJob` answered from BullMQ's job data (completed jobs kept `keepCompletedMs`, default 24 h).
 *
 * Connections: one shared connection for producers, one shared connection for consumers
 * (`maxRetriesPerRequest: null`, as BullMQ requires), plus one blocking connection per consumed
 * queue. `close()` releases all of them.
 */
export class BullmqDriver implements Driver {
  readonly apiVersion = DRIVER_API_VERSION;
  readonly provider = 'bullmq';
  readonly capabilities: Capabilities;
  /** BullMQ key prefix in use. */
  readonly prefix: string;
  /**
   * None: the driver keeps its own data in the job options (`opts.queuekit`), not in headers, and
   * it only writes `queuekit-tick` on runs of a job scheduler (which have no user headers).
   */
  readonly reservedHeaders: readonly string[] = [];
  // ES private fields: never shown by util.inspect nor JSON (the options carry the URL, the
  // connections the password and TLS keys).
  readonly #options: BullmqDriverOptions;
  readonly #producerConnection: Redis;
  readonly #consumerConnection: Redis;
  readonly #queues = new Map<string, Queue>();
  readonly #receivers = new Map<string, QueueReceiver>();
  readonly #jobSettings: JobSettings;
  readonly #onError: (error: Error) => void;
  readonly #scrubber: Scrubber;
  #closing: Promise<void> | undefined;
  /** Redis refused our credentials on the last connection attempt (cleared once a connection is ready). */
  #authRefused = false;
  /** The unsettled deliveries by `deliveryToken` (their lock token), which `OutgoingMessage.copyOf` names. */
  readonly #byToken = new Map<string, BullDelivery>();
  readonly #rateLimits = new Map<string, RateLimit>();
  readonly #nativeWorkflows: BullmqWorkflows;
  readonly #fanOuts: FanOutFlows;

  constructor(options: BullmqDriverOptions = {}) {
    this.#options = options;
    validateOptions(options);
    const parsed = parseRedisUrl(options.url ?? 'redis://127.0.0.1:6379');
    this.prefix = options.prefix ?? parsed.prefix ?? 'bull';
    // No auto-pipelining by default (as BullMQ): on a nearby Redis it costs CPU per job and rate (the
    // bench's A/B); `redis: { enableAutoPipelining: true }` batches round trips on a distant one.
    const base: RedisOptions = {
      ...parsed.redis,
      ...options.redis,
      lazyConnect: true,
    };
    // The URL's secrets, and a password given as an ioredis option (as if in a URL, for secretsOf).
    const password = options.redis?.password;
    this.#scrubber = new Scrubber(
      [options.url, password ? `redis://:${encodeURIComponent(password)}@host` : undefined],
      { credentialCommands: true },
    );
    const report = options.onError ?? (() => undefined);
    this.#onError = (error) => report(this.#scrubber.error(toQueuekitError(error, 'a background task')));
    const label = base.connectionName ?? `queuekit:${this.prefix}`;
    this.#producerConnection = safeRedis({ ...base, connectionName: `${label}:producer` });
    this.#consumerConnection = safeRedis({
      ...base,
      maxRetriesPerRequest: null,
      connectionName: `${label}:consumer`,
    });
    for (const connection of [this.#producerConnection, this.#consumerConnection]) {
      connection.on('error', (error: Error) => {
        if (isAuthFailure(error)) this.#authRefused = true;
        this.#onError(error);
      });
      connection.on('ready', () => {
        this.#authRefused = false;
      });
    }
    this.#jobSettings = {
      keepCompleted: options.keepCompleted ?? 0,
      keepCompletedMs: options.keepCompletedMs ?? DEFAULT_KEEP_COMPLETED_MS,
    };
    this.#fanOuts = new FanOutFlows({
      connection: this.#producerConnection,
      prefix: this.prefix,
      jobSettings: this.#jobSettings,
      queue: (name) => this.queue(name),
      place: (_queue, messages) => placeMessages(messages),
      indexNumbered: (queue, messages, placements, ids) =>
        this.indexNumbered(queue, messages, placements, ids),
    });
    this.#nativeWorkflows = new BullmqWorkflows(
      {
        fanOuts: this.#fanOuts,
        connection: this.#producerConnection,
        jobSettings: this.#jobSettings,
        queue: (name) => this.queue(name),
        applyRateLimit: (queue, limit) => this.applyRateLimit(queue, limit),
        ensureOpen: () => this.ensureOpen(),
      },
      this.#jobSettings.keepCompletedMs > 0,
    );
    this.capabilities = {
      maxDelayMs: MAX_DELAY_MS,
      priority: 'native',
      dedup: true,
      ordering: false,
      maxBatchSize: MAX_BATCH,
      lockRenewal: true,
      redelivery: 'timeout',
      deadLetter: 'native',
      maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
      // BullMQ counts every fetch of a job (`attemptsStarted`), stalled ones included; the
      // receiver undoes the count of a job it hands back unseen.
      deliveryCount: 'exact',
    };
  }

  /** What the driver shows of itself (never the URL, password or connection options). */
  toJSON(): { provider: string; prefix: string; queues: string[] } {
    return { provider: this.provider, prefix: this.prefix, queues: [...this.#queues.keys()] };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `BullmqDriver { prefix: ${JSON.stringify(this.prefix)} }`;
  }

  /**
   * Native workflow features: recurring jobs on BullMQ job schedulers, the rate limit on BullMQ's
   * limiter, and job records from BullMQ's job data (absent with `keepCompletedMs: 0`).
   */
  get workflows(): BullmqWorkflows {
    return this.#nativeWorkflows;
  }

  private applyRateLimit(queue: string, limit: RateLimit): void {
    this.#rateLimits.set(queue, limit);
    this.#receivers.get(queue)?.setLimiter(limit);
  }

  /** A typed error for a failed call; a connection that dropped after refused credentials says so. */
  #error(error: unknown, operation: string): Error {
    const typed = this.#scrubber.error(toQueuekitError(error, operation));
    if (this.#authRefused && BrokerUnavailableError.is(typed))
      return new AuthenticationError('redis', `Redis refused the credentials (${operation})`);
    return typed;
  }

  /**
   * The core's driver guard asks this for an error a call rejected with that is not a queuekit error
   * yet: the typed error it maps to (lock lost, Redis unavailable, credentials refused), scrubbed, or
   * `undefined` (the guard then wraps it as `DriverError`). Never throws.
   */
  classifyError(error: unknown, operation: string): QueuekitError | undefined {
    try {
      const typed = this.#error(error, operation);
      return QueuekitError.is(typed) ? typed : undefined;
    } catch {
      return undefined;
    }
  }

  private ensureOpen(): void {
    if (this.#closing) throw new QueueClosedError('The BullMQ driver is closed');
  }

  private queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new SendQueue(name, { connection: this.#producerConnection, prefix: this.prefix });
      queue.on('error', (error: Error) => this.#onError(error));
      this.#queues.set(name, queue);
    }
    return queue;
  }

  private receiver(name: string, lockMs = DEFAULT_LOCK_MS): QueueReceiver {
    let receiver = this.#receivers.get(name);
    if (!receiver) {
      const settings = {
        prefix: this.prefix,
        connection: this.#consumerConnection,
        limiter: this.#rateLimits.get(name) ?? this.#options.limiter,
        stalledIntervalMs: this.#options.stalledIntervalMs,
        workerName: this.#options.workerName,
        metrics: metricsOption(this.#options.metrics),
        onError: this.#onError,
      };
      receiver = new QueueReceiver(name, settings, lockMs);
      this.#receivers.set(name, receiver);
    }
    return receiver;
  }

  async send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    this.ensureOpen();
    if (messages.length === 0) return;
    try {
      const rest = await this.replaceHeld(queue, messages);
      if (rest.length > 0) await this.addMessages(queue, rest);
    } catch (error) {
      throw this.#error(error, 'send');
    }
  }

  /**
   * A copy of a delivery this driver holds (the core's retry-after, re-park or delay hop, sent
   * before it acks the original) replaces that job in place: same BullMQ id, moved to the delayed
   * set with the copy's options (see `BullDelivery.replaceWith`). Returns the messages still to add.
   */
  private async replaceHeld(queue: string, messages: readonly OutgoingMessage[]): Promise<OutgoingMessage[]> {
    const rest: OutgoingMessage[] = [];
    const replaced = new Set<string>();
    for (const message of messages) {
      const held = message.dedup ? undefined : this.#copied(queue, message);
      if (!held || held.settling || replaced.has(message.id)) {
        rest.push(message);
        continue;
      }
      replaced.add(message.id);
      const jobId = held.raw.id;
      const { opts } = toBullJob(message, this.#jobSettings, { jobId, copy: true });
      await held.replaceWith(opts, message.delayMs ?? 0);
    }
    return rest;
  }

  /** The unsettled delivery a send copies: the one its `copyOf` names (same queue, id and lock token). */
  #copied(queue: string, message: OutgoingMessage): BullDelivery | undefined {
    const ref = message.copyOf;
    const held = ref?.deliveryToken === undefined ? undefined : this.#byToken.get(ref.deliveryToken);
    return held && held.id === ref?.id && ref.queue === queue ? held : undefined;
  }

  /**
   * Add messages as BullMQ jobs (ids chosen by `placeMessages`); numbered jobs get an index entry
   * pointing their queuekit id at them, for `getJob`.
   */
  private async addMessages(
    queue: string,
    messages: readonly OutgoingMessage[],
    copies = false,
  ): Promise<(string | undefined)[]> {
    const target = this.queue(queue);
    const placements = placeMessages(messages, copies);
    const allIds: (string | undefined)[] = [];
    // A copy of a native fan-out's chunk joins the same flow (not on redrive: that flow is over).
    const parents = copies ? [] : await this.#fanOuts.copyParents(queue, messages, placements);
    const jobs = messages.map((message, index) => {
      const job = toBullJob(message, this.#jobSettings, placements[index] as (typeof placements)[number]);
      const parent = parents[index];
      return parent ? { ...job, opts: { ...job.opts, ...parent } } : job;
    });
    for (let i = 0; i < jobs.length; i += MAX_BATCH) {
      const chunk = jobs.slice(i, i + MAX_BATCH);
      const [only] = chunk;
      const added =
        chunk.length === 1 && only
          ? [await target.add(only.name, only.data, only.opts)]
          : await target.addBulk(chunk.map((job) => ({ ...job })));
      const sent = messages.slice(i, i + MAX_BATCH);
      const ids = added.map((job) => job.id);
      allIds.push(...ids);
      await this.indexNumbered(queue, sent, placements.slice(i, i + MAX_BATCH), ids);
      if (parents.length > 0)
        await this.#fanOuts.noteCopies(queue, sent, parents.slice(i, i + MAX_BATCH), ids);
    }
    return allIds;
  }

  /** Index entries pointing the queuekit ids of numbered jobs at their BullMQ ids, for `getJob`. */
  private async indexNumbered(
    queue: string,
    messages: readonly OutgoingMessage[],
    placements: readonly JobPlacement[],
    ids: readonly (string | undefined)[],
  ): Promise<void> {
    const target = this.queue(queue);
    const pipeline = this.#producerConnection.pipeline();
    let indexed = 0;
    for (const [offset, id] of ids.entries()) {
      const message = messages[offset] as OutgoingMessage;
      if (message.dedup || placements[offset]?.jobId !== undefined || id === undefined) continue;
      const ttl = (message.delayMs ?? 0) + this.#jobSettings.keepCompletedMs + INDEX_SLACK_MS;
      pipeline.set(indexKey(target.toKey(''), message.id), id, 'PX', Math.ceil(ttl));
      indexed++;
    }
    if (indexed > 0) await pipeline.exec();
  }

  async receive(queue: string, options: ReceiveOptions): Promise<Delivery[]> {
    this.ensureOpen();
    if (options.signal.aborted || options.max <= 0) return [];
    let jobs: Job[];
    try {
      jobs = await this.receiver(queue, options.lockMs).take(options);
    } catch (error) {
      throw this.#error(error, 'receive');
    }
    const receiver = this.receiver(queue);
    if (jobs.some((job) => job.repeatJobKey)) jobs = await this.scheduledRuns(queue, jobs);
    const deliveries = await Promise.all(
      jobs.map(async (job) => {
        const view = fromBullJob(job);
        let reduced: Awaited<ReturnType<FanOutFlows['reduceBody']>>;
        try {
          reduced = await this.#fanOuts.reduceBody(queue, job);
        } catch (error) {
          // Redis failed while the reduce body was read: the job goes back unseen, to be read again.
          this.#onError(toQueuekitError(error, 'fan-out'));
          await receiver.handBack(job);
          return undefined;
        }
        const message = reduced instanceof Uint8Array ? { ...view, body: reduced } : view;
        const delivery: BullDelivery = new BullDelivery(message, job, receiver, () => {
          this.#byToken.delete(delivery.deliveryToken);
        });
        this.#byToken.set(delivery.deliveryToken, delivery);
        if (reduced === undefined || reduced instanceof Uint8Array) return delivery;
        await this.#refuse(delivery, reduced.invalid);
        return undefined;
      }),
    );
    return deliveries.filter((delivery): delivery is BullDelivery => delivery !== undefined);
  }

  /**
   * Dead-letter a job whose queuekit meta cannot be trusted (added by another producer), with
   * reason `invalid-fan-out`, instead of delivering it. If that fails, the lock runs out and the
   * job comes back to be refused again.
   */
  async #refuse(delivery: BullDelivery, why: string): Promise<void> {
    try {
      await delivery.deadLetter({ reason: 'invalid-fan-out', error: why, attempts: delivery.deliveryCount });
    } catch (error) {
      this.#onError(toQueuekitError(error, 'dead-letter'));
    }
  }

  /** Complete stale scheduler runs without delivering them; note the ticks of the others (`lastRunAt`). */
  private async scheduledRuns(queue: string, jobs: Job[]): Promise<Job[]> {
    try {
      const fetcher = this.receiver(queue).worker;
      const stale = this.#nativeWorkflows.staleRuns(jobs, (job) => fetcher.takeLatestTick(job.id));
      await Promise.all(
        [...stale].map((job) => job.moveToCompleted(null, job.token ?? '', false).catch(() => undefined)),
      );
      const fresh = jobs.filter((job) => !stale.has(job));
      await this.#nativeWorkflows.noteRuns(queue, fresh);
      return fresh;
    } catch (error) {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
      return jobs;
    }
  }

  async stats(queue: string): Promise<DriverStats> {
    this.ensureOpen();
    try {
      const counts = await this.queue(queue).getJobCounts(
        'wait',
        'prioritized',
        'waiting-children',
        'delayed',
        'active',
        'failed',
      );
      const n = (key: string) => counts[key] ?? 0;
      return {
        waiting: n('wait') + n('prioritized') + n('waiting-children'),
        delayed: n('delayed'),
        active: n('active'),
        deadLettered: n('failed'),
      };
    } catch (error) {
      throw this.#error(error, 'stats');
    }
  }

  /**
   * Waiting jobs in the order they will be served, without locking them: jobs without a priority
   * (added by plain BullMQ) first, then prioritized ones. Delayed and active jobs are not listed.
   */
  async peek(queue: string, limit: number): Promise<ReceivedMessage[]> {
    this.ensureOpen();
    if (limit <= 0) return [];
    try {
      const target = this.queue(queue);
      const jobs = (await target.getJobs(['wait'], 0, limit - 1, true)).filter((job): job is Job => !!job);
      if (jobs.length < limit) {
        const prioritized = await target.getJobs(['prioritized'], 0, limit - jobs.length - 1, true);
        jobs.push(...prioritized.filter((job): job is Job => !!job));
      }
      return jobs.map((job) => fromBullJob(job));
    } catch (error) {
      throw this.#error(error, 'peek');
    }
  }

  /** Oldest first, like the order jobs were dead-lettered. */
  async listDeadLetters(queue: string, limit: number): Promise<DeadLetteredMessage[]> {
    this.ensureOpen();
    if (limit <= 0) return [];
    try {
      const target = this.queue(queue);
      const jobs = (await target.getJobs(['failed'], 0, limit - 1, true)).filter((job): job is Job => !!job);
      const records = await this.deadLetterRecords(target, jobs);
      return jobs.map((job, index) => {
        const record = records[index];
        const view = fromBullJob(job);
        return {
          ...view,
          // Only while the job has not run again since (its qk-attempt would be back in the options then).
          ...(record?.h && job.attemptsStarted === 0 ? { headers: { ...record.h, ...view.headers } } : {}),
          reason: record?.reason ?? 'failed',
          ...(record?.error !== undefined
            ? { error: record.error }
            : job.failedReason
              ? { error: job.failedReason }
              : {}),
          attempts: record?.attempts ?? job.attemptsMade,
          deadLetteredAt: new Date(record?.at ?? job.finishedOn ?? job.timestamp),
        };
      });
    } catch (error) {
      throw this.#error(error, 'list-dead-letters');
    }
  }

  private async deadLetterRecords(
    target: Queue,
    jobs: readonly Job[],
  ): Promise<(DeadLetterRecord | undefined)[]> {
    if (jobs.length === 0) return [];
    const pipeline = this.#producerConnection.pipeline();
    for (const job of jobs) pipeline.hget(target.toKey(String(job.id)), DEAD_LETTER_FIELD);
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, value]) =>
      error ? undefined : parseDeadLetterRecord(typeof value === 'string' ? value : undefined),
    );
  }

  /**
   * Re-sends each dead letter as a new job (its queuekit id kept, headers overwritten, delivery
   * count fresh), then removes the failed one: at-least-once, never lost between the two steps.
   */
  async redriveDeadLetters(queue: string, options: RedriveOptions): Promise<number> {
    this.ensureOpen();
    const wanted = options.ids ? new Set(options.ids) : undefined;
    const target = this.queue(queue);
    let moved = 0;
    let start = 0;
    // Copies made by this call that a consumer dead-letters again meanwhile are not moved twice.
    const copies = new Set<string>();
    try {
      for (;;) {
        const page = (await target.getJobs(['failed'], start, start + PAGE - 1, true)).filter(
          (job): job is Job => !!job,
        );
        if (page.length === 0) break;
        for (const job of page) {
          const message = redriveMessage(job, options.headers);
          if ((wanted && !wanted.has(message.id)) || copies.has(String(job.id))) {
            start++;
            continue;
          }
          for (const id of await this.addMessages(queue, [message], true)) if (id) copies.add(id);
          await job.remove();
          moved++;
        }
      }
    } catch (error) {
      throw this.#error(error, 'redrive-dead-letters');
    }
    return moved;
  }

  async purgeDeadLetters(queue: string): Promise<number> {
    this.ensureOpen();
    try {
      const removed = await this.queue(queue).clean(-60_000, 0, 'failed');
      return removed.length;
    } catch (error) {
      throw this.#error(error, 'purge-dead-letters');
    }
  }

  /** Delete every key of the queue (jobs, dead letters, events, metadata). */
  async deleteQueue(queue: string): Promise<void> {
    this.ensureOpen();
    const receiver = this.#receivers.get(queue);
    this.#receivers.delete(queue);
    await receiver?.close();
    const target = this.queue(queue);
    try {
      await target.obliterate({ force: true });
      await this.deleteKeys(`${target.toKey('')}qk:*`);
    } catch (error) {
      throw this.#error(error, 'delete-queue');
    } finally {
      this.#queues.delete(queue);
      await target.close().catch(() => undefined);
    }
  }

  /** Delete the keys matching `pattern` (queuekit's own keys of a queue: id index, schedule runs). */
  private async deleteKeys(pattern: string): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.#producerConnection.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await this.#producerConnection.unlink(...keys);
    } while (cursor !== '0');
  }

  /**
   * Close every Worker, Queue and connection. Unsettled deliveries keep their lock until it
   * expires; the stalled check of another consumer then returns them to the queue.
   */
  close(): Promise<void> {
    this.#closing ??= this.shutdown();
    return this.#closing;
  }

  private async shutdown(): Promise<void> {
    const receivers = [...this.#receivers.values()];
    const queues = [...this.#queues.values()];
    this.#receivers.clear();
    this.#queues.clear();
    this.#byToken.clear();
    await Promise.allSettled(receivers.map((receiver) => receiver.close()));
    await Promise.allSettled(queues.map((queue) => queue.close()));
    await this.#fanOuts.close().catch(() => undefined);
    await Promise.allSettled([quit(this.#producerConnection), quit(this.#consumerConnection)]);
  }
}

/** QUIT politely, but never wait more than a second for it (Redis may be unreachable). */
async function quit(connection: Redis): Promise<void> {
  if (connection.status === 'end' || connection.status === 'wait' || connection.status === 'reconnecting') {
    connection.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), 1000);
  });
  try {
    const outcome = await Promise.race([connection.quit(), timeout]);
    if (outcome === 'timeout') connection.disconnect();
  } catch {
    connection.disconnect();
  } finally {
    clearTimeout(timer);
  }
}

/** The URL registry's entry point: `redis://host:port/db` or `rediss://` (TLS). */
export function createDriver(options: DriverFactoryOptions): BullmqDriver {
  return new BullmqDriver({ url: options.url });
}
