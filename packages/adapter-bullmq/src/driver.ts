import { inspect } from 'node:util';
import {
  type Capabilities,
  DRIVER_API_VERSION,
  type DeadLetteredMessage,
  type Delivery,
  type Driver,
  type DriverFactoryOptions,
  type DriverStats,
  type OutgoingMessage,
  QueueClosedError,
  type QueuekitError,
  type RateLimit,
  type ReceivedMessage,
  type ReceiveOptions,
  type RedriveOptions,
  Scrubber,
  settlesWithin,
} from '@queuekit/core';
import { type ClassifyContext, classified } from '@queuekit/core/driver-kit';
import type { Job, Queue } from 'bullmq';
import { type ChainableCommander, Redis, type RedisOptions } from 'ioredis';
import * as admin from './admin.js';
import type { DriverHost } from './admin.js';
import { classifyError, isAuthFailure } from './errors.js';
import { FanOutFlows } from './flows/fan-out.js';
import { BullmqWorkflows } from './flows/workflows.js';
import { type BullmqDriverOptions, parseRedisUrl, type ResolvedOptions, resolveOptions } from './options.js';
import { type HeldDelivery, QueueReceiver } from './receiver.js';
import {
  fromBullJob,
  hasFanOutMeta,
  INDEX_SLACK_MS,
  indexKey,
  type JobPlacement,
  placeMessages,
  SendQueue,
  JsonData,
  toBullJob,
} from './wire.js';

/** Longest native delay declared; longer ones are split into hops by the core. */
const MAX_DELAY_MS = 365 * 24 * 60 * 60 * 1000;
const MAX_BATCH = 1000;

/**
 * queuekit driver for BullMQ on Redis: `Queue.add` / `addBulk` to send; BullMQ's manual processing to
 * receive (a processor-less `Worker` per consumed queue, see `receiver.ts`); dead letters in BullMQ's
 * failed set; native schedules, rate limits, fan-out and job records (`flows/`).
 *
 * Connections: one shared by producers, one shared by consumers (`maxRetriesPerRequest: null`, as BullMQ
 * requires), plus one blocking connection per consumed queue. `close()` releases all of them.
 */
export class BullmqDriver implements Driver {
  readonly apiVersion = DRIVER_API_VERSION;
  readonly provider = 'bullmq';
  readonly capabilities: Capabilities;
  /** BullMQ key prefix in use. */
  readonly prefix: string;
  /** None: the driver keeps its data in `opts.queuekit`; it writes `queuekit-tick` only on scheduler runs. */
  readonly reservedHeaders: readonly string[] = [];
  /** Native schedules, rate limit, fan-out and job records (no `jobs` with `keepCompletedMs: 0`). */
  readonly workflows: BullmqWorkflows;
  // ES private fields: never shown by util.inspect nor JSON (the options carry the URL, the connections
  // the password and TLS keys).
  readonly #options: ResolvedOptions;
  readonly #producer: Redis;
  readonly #consumer: Redis;
  readonly #queues = new Map<string, Queue>();
  readonly #receivers = new Map<string, QueueReceiver>();
  readonly #host: DriverHost;
  readonly #onError: (error: Error) => void;
  readonly #scrubber: Scrubber;
  readonly #context: ClassifyContext;
  /** The unsettled deliveries by their lock token, which `OutgoingMessage.copyOf` names. */
  readonly #byToken = new Map<string, HeldDelivery>();
  readonly #rateLimits = new Map<string, RateLimit>();
  readonly #fanOuts: FanOutFlows;
  #closing: Promise<void> | undefined;
  /** Redis refused our credentials on the last connection attempt (cleared once a connection is ready). */
  #authRefused = false;

  constructor(options: BullmqDriverOptions = {}) {
    this.#options = resolveOptions(options);
    const parsed = parseRedisUrl(options.url ?? 'redis://127.0.0.1:6379');
    this.prefix = options.prefix ?? parsed.prefix ?? 'bull';
    // No auto-pipelining (as BullMQ): on a nearby Redis it costs CPU per job and rate (the bench's A/B).
    const base: RedisOptions = { ...parsed.redis, ...options.redis, lazyConnect: true };
    // The URL's secrets, and a password given as an ioredis option (as if in a URL, for secretsOf).
    const password = options.redis?.password;
    const secrets = [options.url, password ? `redis://:${encodeURIComponent(password)}@host` : undefined];
    this.#scrubber = new Scrubber(secrets, { credentialCommands: true });
    this.#context = {
      provider: this.provider,
      classify: (error, operation) => this.classifyError(error, operation),
      scrub: (error) => this.#scrubber.error(error),
    };
    this.#onError = (error) =>
      options.onError?.(this.#scrubber.error(classifyError(error, 'a background task') ?? error));
    const label = base.connectionName ?? `queuekit:${this.prefix}`;
    this.#producer = safeRedis(new Redis({ ...base, connectionName: `${label}:producer` }));
    const consumer = { ...base, maxRetriesPerRequest: null, connectionName: `${label}:consumer` };
    this.#consumer = safeRedis(new Redis(consumer));
    for (const connection of [this.#producer, this.#consumer]) {
      connection.on('error', (error: Error) => {
        if (isAuthFailure(error)) this.#authRefused = true;
        this.#onError(error);
      });
      connection.on('ready', () => {
        this.#authRefused = false;
      });
    }
    this.#host = {
      connection: this.#producer,
      prefix: this.prefix,
      jobSettings: this.#options,
      queue: (name) => this.#queue(name),
      run: (operation, work) => this.#run(operation, work),
      addMessages: (queue, messages, copies) => this.#addMessages(queue, messages, copies),
      indexNumbered: this.#indexNumbered.bind(this),
      applyRateLimit: (queue, limit) => {
        this.#rateLimits.set(queue, limit);
        this.#receivers.get(queue)?.setLimiter(limit);
      },
    };
    this.#fanOuts = new FanOutFlows(this.#host);
    this.workflows = new BullmqWorkflows(this.#host, this.#fanOuts, this.#options.keepCompletedMs > 0);
    this.capabilities = {
      maxDelayMs: MAX_DELAY_MS,
      priority: 'native',
      dedup: true,
      ordering: false,
      maxBatchSize: MAX_BATCH,
      lockRenewal: true,
      redelivery: 'timeout',
      deadLetter: 'native',
      maxPayloadBytes: this.#options.maxPayloadBytes,
      // BullMQ counts every fetch (`attemptsStarted`), stalled ones included; the receiver undoes the
      // count of a job it hands back unseen.
      deliveryCount: 'exact',
    };
  }

  /** What the driver shows of itself (never the URL, password or connection options). */
  toJSON(): { provider: string; prefix: string; queues: string[] } {
    return { provider: this.provider, prefix: this.prefix, queues: [...this.#queues.keys()] };
  }

  [inspect.custom](): string {
    return `BullmqDriver { prefix: ${JSON.stringify(this.prefix)} }`;
  }

  /** The typed, scrubbed error a call rejected with, or `undefined` (the guard wraps it as `DriverError`). */
  classifyError(error: unknown, operation: string): QueuekitError | undefined {
    const typed = classifyError(error, operation, this.#authRefused);
    return typed && this.#scrubber.error(typed);
  }

  private assertOpen(): void {
    if (this.#closing) throw new QueueClosedError('The BullMQ driver is closed');
  }

  /** `work` on an open driver, rejecting only with typed, scrubbed errors. */
  #run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return classified(operation, this.#context, () => {
      this.assertOpen();
      return work();
    });
  }

  #queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new SendQueue(name, { connection: this.#producer, prefix: this.prefix });
      queue.on('error', (error: Error) => this.#onError(error));
      this.#queues.set(name, queue);
    }
    return queue;
  }

  #receiver(name: string, lockMs: number): QueueReceiver {
    let receiver = this.#receivers.get(name);
    if (!receiver) {
      const limiter = this.#rateLimits.get(name) ?? this.#options.limiter;
      const own = { prefix: this.prefix, connection: this.#consumer, onError: this.#onError, limiter };
      receiver = new QueueReceiver(name, { ...this.#options, ...own, context: this.#context }, lockMs);
      this.#receivers.set(name, receiver);
    }
    return receiver;
  }

  send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    return this.#run('send', async () => {
      const rest: OutgoingMessage[] = [];
      for (const message of messages) {
        // A copy of a delivery held here (the core's retry-after, re-park or delay hop, sent before it acks
        // the original) replaces that job in place, once (see `HeldDelivery.replaceWith`).
        const held = message.dedup ? undefined : this.#copied(queue, message);
        if (!held) rest.push(message);
        else {
          this.#byToken.delete(held.deliveryToken);
          const { opts } = toBullJob(message, this.#options, { jobId: held.raw.id, copy: true });
          await held.replaceWith(opts, message.delayMs ?? 0);
        }
      }
      if (rest.length > 0) await this.#addMessages(queue, rest);
    });
  }

  /** The unsettled delivery a send copies: the one its `copyOf` names (same queue, id and lock token). */
  #copied(queue: string, message: OutgoingMessage): HeldDelivery | undefined {
    const ref = message.copyOf;
    const held = ref?.deliveryToken === undefined ? undefined : this.#byToken.get(ref.deliveryToken);
    return held && held.id === ref?.id && ref.queue === queue && !held.busy() ? held : undefined;
  }

  /** Add messages as BullMQ jobs (ids from `placeMessages`), numbered ones indexed for `getJob`. */
  async #addMessages(queue: string, messages: readonly OutgoingMessage[], copies = false) {
    const target = this.#queue(queue);
    const placements = placeMessages(messages, copies);
    // A copy of a native fan-out's chunk joins the same flow (not on redrive: that flow is over).
    const parents = copies ? [] : await this.#fanOuts.copyParents(queue, messages, placements);
    const jobs = messages.map((message, index) => {
      const { name, data, opts, json } = toBullJob(message, this.#options, placements[index] as JobPlacement);
      const parent = parents[index];
      // A JSON body's text is stored as it is (see `JsonData`).
      const stored = json === undefined ? data : new JsonData(data, json);
      return { name, data: stored, opts: parent ? { ...opts, ...parent } : opts };
    });
    // One addBulk (one Redis pipeline): the core cuts its sends to `maxBatchSize`.
    const [only] = jobs;
    const added =
      jobs.length === 1 && only
        ? [await target.add(only.name, only.data, only.opts)]
        : await target.addBulk(jobs);
    const ids = added.map((job) => job.id);
    await this.#indexNumbered(queue, messages, placements, ids);
    if (parents.length > 0) await this.#fanOuts.noteCopies(queue, messages, parents, ids);
    return ids;
  }

  async #indexNumbered(
    queue: string,
    messages: readonly OutgoingMessage[],
    placements: readonly JobPlacement[],
    ids: readonly (string | undefined)[],
  ): Promise<void> {
    const prefix = this.#queue(queue).toKey('');
    // Made only when needed: an ioredis pipeline copies every loaded script (BullMQ's 64), about 40 µs.
    let pipeline: ChainableCommander | undefined;
    for (const [offset, id] of ids.entries()) {
      const message = messages[offset] as OutgoingMessage;
      if (message.dedup || placements[offset]?.jobId !== undefined || id === undefined) continue;
      const ttl = (message.delayMs ?? 0) + this.#options.keepCompletedMs + INDEX_SLACK_MS;
      pipeline ??= this.#producer.pipeline();
      pipeline.set(indexKey(prefix, message.id), id, 'PX', Math.ceil(ttl));
    }
    await pipeline?.exec();
  }

  async receive(queue: string, options: ReceiveOptions): Promise<Delivery[]> {
    this.assertOpen();
    if (options.signal.aborted || options.max <= 0) return [];
    const receiver = this.#receiver(queue, options.lockMs);
    let jobs = await this.#run('receive', () => receiver.take(options));
    if (jobs.some((job) => job.repeatJobKey)) jobs = await this.#scheduledRuns(queue, receiver, jobs);
    // The kit refuses a settle whose lock ran out without calling the broker, so such deliveries never leave
    // the map on their own: drop them once it grows past what a consumer holds.
    if (this.#byToken.size > 1000) {
      const now = Date.now();
      for (const [token, held] of this.#byToken)
        if ((held.lockedUntil ?? 0) < now) this.#byToken.delete(token);
    }
    const deliveries: Delivery[] = [];
    const reduces: Job[] = [];
    for (const job of jobs) {
      if (hasFanOutMeta(job.opts)) reduces.push(job);
      else deliveries.push(this.#deliver(receiver, job));
    }
    if (reduces.length === 0) return deliveries;
    for (const delivery of await Promise.all(reduces.map((job) => this.#reduce(queue, receiver, job))))
      if (delivery) deliveries.push(delivery);
    return deliveries;
  }

  /** The delivery of a taken job, its body built from the data as fetched; `body` replaces it (a reduce job's). */
  #deliver(receiver: QueueReceiver, job: Job, body?: Uint8Array): HeldDelivery {
    const message = fromBullJob(job, job, receiver.worker.storedData.get(job));
    const delivery: HeldDelivery = receiver.deliver(job, body ? { ...message, body } : message, () =>
      this.#byToken.delete(delivery.deliveryToken),
    );
    this.#byToken.set(delivery.deliveryToken, delivery);
    return delivery;
  }

  /** A fan-out's reduce job, its body replaced by the chunks' results; `undefined` when not delivered. */
  async #reduce(queue: string, receiver: QueueReceiver, job: Job): Promise<HeldDelivery | undefined> {
    // Redis failed while the reduce body was read: the job goes back unseen, to be read again.
    const reduced = await this.#fanOuts.reduceBody(queue, job).catch(async (error: unknown) => {
      this.#onError(classifyError(error, 'fan-out') ?? (error as Error));
      await receiver.handBack(job);
      return null;
    });
    if (reduced === null) return undefined;
    const delivery = this.#deliver(receiver, job, reduced instanceof Uint8Array ? reduced : undefined);
    if (reduced === undefined || reduced instanceof Uint8Array) return delivery;
    // Fan-out meta that cannot be trusted (another producer's): dead-lettered instead of delivered. If that
    // fails, the lock runs out and the job comes back to be refused again.
    const info = { reason: 'invalid-fan-out', error: reduced.invalid, attempts: delivery.deliveryCount };
    await delivery.deadLetter(info).catch((error: unknown) => this.#onError(error as Error));
    return undefined;
  }

  /** Complete stale scheduler runs without delivering them; note the ticks of the others (`lastRunAt`). */
  async #scheduledRuns(queue: string, receiver: QueueReceiver, jobs: Job[]): Promise<Job[]> {
    try {
      const stale = this.workflows.staleRuns(jobs, (job) => receiver.worker.takeLatestTick(job.id));
      await Promise.all(
        [...stale].map((job) => job.moveToCompleted(null, job.token ?? '', false).catch(() => undefined)),
      );
      const fresh = jobs.filter((job) => !stale.has(job));
      await this.workflows.noteRuns(queue, fresh);
      return fresh;
    } catch (error) {
      this.#onError(error instanceof Error ? error : new Error(String(error)));
      return jobs;
    }
  }

  stats(queue: string): Promise<DriverStats> {
    return this.#run('stats', () => admin.queueStats(this.#queue(queue)));
  }

  peek(queue: string, limit: number): Promise<ReceivedMessage[]> {
    return this.#run('peek', async () => (limit <= 0 ? [] : admin.peekJobs(this.#queue(queue), limit)));
  }

  listDeadLetters(queue: string, limit: number): Promise<DeadLetteredMessage[]> {
    return this.#run('list-dead-letters', async () =>
      limit <= 0 ? [] : admin.listDeadLetters(this.#host, queue, limit),
    );
  }

  redriveDeadLetters(queue: string, options: RedriveOptions): Promise<number> {
    return this.#run('redrive-dead-letters', () => admin.redriveDeadLetters(this.#host, queue, options));
  }

  purgeDeadLetters(queue: string): Promise<number> {
    return this.#run(
      'purge-dead-letters',
      async () => (await this.#queue(queue).clean(-60_000, 0, 'failed')).length,
    );
  }

  deleteQueue(queue: string): Promise<void> {
    return this.#run('delete-queue', async () => {
      const receiver = this.#receivers.get(queue);
      this.#receivers.delete(queue);
      await receiver?.close();
      const target = this.#queue(queue);
      try {
        await admin.obliterate(this.#producer, target);
      } finally {
        this.#queues.delete(queue);
        await target.close().catch(() => undefined);
      }
    });
  }

  /**
   * Close every Worker, Queue and connection. Unsettled deliveries keep their lock until it expires; the
   * stalled check of another consumer then returns them to the queue.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    const receivers = [...this.#receivers.values()];
    const queues = [...this.#queues.values()];
    this.#receivers.clear();
    this.#queues.clear();
    this.#byToken.clear();
    // Bounded: a buffered job not handed back during an outage comes back when its lock expires.
    await Promise.all(receivers.map((receiver) => settlesWithin(receiver.close(), 1000)));
    await Promise.allSettled(queues.map((queue) => queue.close()));
    await this.#fanOuts.close().catch(() => undefined);
    await Promise.allSettled([quit(this.#producer), quit(this.#consumer)]);
  }
}

/** QUIT politely, but disconnect when it fails or takes more than a second. */
async function quit(connection: Redis): Promise<void> {
  if (['end', 'wait', 'reconnecting'].includes(connection.status)) return connection.disconnect();
  const quitted = connection.quit().catch(() => 'failed');
  if (!(await settlesWithin(quitted, 1000)) || (await quitted) === 'failed') connection.disconnect();
}

/** Configurable and writable: BullMQ wraps connections in a Proxy, which must be free to return its own. */
const HIDDEN = { enumerable: false, configurable: true, writable: true } as const;

/**
 * An ioredis connection that shows only where it points (`Redis { host:port/db status }`), never its
 * options (password, TLS keys), under `util.inspect` or JSON; so do its duplicates (BullMQ's blocking
 * connections) and the options object BullMQ keeps (`RedisConnection.opts`). Everything holding one (a
 * BullMQ `Queue`, `Worker`, `Job` reached through `job.raw`) prints without secrets.
 */
function safeRedis(connection: Redis): Redis {
  const opts = connection.options;
  const summary = () => ({ host: opts.host, port: opts.port, db: opts.db, status: connection.status });
  const show = () => `Redis { ${opts.host}:${opts.port}/${opts.db ?? 0} ${connection.status} }`;
  const duplicate = connection.duplicate.bind(connection);
  Object.defineProperties(opts, {
    toJSON: { value: summary, ...HIDDEN },
    [inspect.custom]: { value: () => `RedisOptions { ${show()} }`, ...HIDDEN },
  });
  Object.defineProperties(connection, {
    toJSON: { value: summary, ...HIDDEN },
    [inspect.custom]: { value: show, ...HIDDEN },
    duplicate: { value: (override?: Partial<RedisOptions>) => safeRedis(duplicate(override)), ...HIDDEN },
  });
  return connection;
}

/** The URL registry's entry point: `redis://host:port/db` or `rediss://` (TLS). */
export function createDriver(options: DriverFactoryOptions): BullmqDriver {
  return new BullmqDriver({ url: options.url });
}
