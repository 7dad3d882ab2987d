/** The connection and its channels, the queues behind a logical queue, and the dead-letter queue API. */
import { EventEmitter } from 'node:events';
import {
  type AuthenticationError,
  abortableDelay,
  BrokerUnavailableError,
  type DeadLetteredMessage,
  type DriverStats,
  QueueClosedError,
  QueuekitError,
  type RedriveOptions,
  settlesWithin,
} from '@queuekit/core';
import { foreignMessage, Wakeup } from '@queuekit/core/driver-kit';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel, type GetMessage } from 'amqplib';
import { classifyError } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { asDeadLetter, type Publication, redriven } from './wire.js';

type Corkable = { cork(): void; uncork(): void; write: (...args: never[]) => boolean };
/** amqplib's socket under a connection model (not its API: every use checks what it finds). */
type WithSocket = { connection?: { stream?: Partial<Corkable> & { destroy?: () => void } } };

/**
 * Frames written in one run of callbacks go to the socket together. amqplib writes every frame with its own
 * `socket.write` and the connection has no Nagle (`noDelay`), so each ack, publish or heartbeat was a syscall and
 * a TCP segment of its own: 80,000 writes for 20,000 jobs enqueued and drained. Corked from the first write of a
 * turn until a `process.nextTick` after it, they leave as one `writev` (3,500 writes in the same run), with no
 * added wait. A socket that cannot be corked (amqplib's layout changed) is left as it is.
 */
export function coalesceWrites(model: ChannelModel): void {
  const socket = (model as unknown as WithSocket).connection?.stream;
  if (typeof socket?.cork !== 'function' || typeof socket.uncork !== 'function') return;
  if (typeof socket.write !== 'function') return;
  const stream = socket as Corkable;
  const write = stream.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  stream.write = function (this: Corkable, ...args: never[]) {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Corkable['write'];
}

/** How long `close()` waits for the broker's answers (a black-holed broker never answers). */
export const CLOSE_TIMEOUT_MS = 2_000;

export const closedError = () => new QueueClosedError('The RabbitMQ driver is closed');

/** Events of {@link ConnectionManager}, for logs and tests. Payloads never contain the URL. */
export interface ConnectionEvents {
  /** A connection is open; `generation` counts connections made by this driver (1, 2, ...). */
  connected: [generation: number];
  /** The connection was lost (not by `close()`); a reconnect is under way. */
  disconnected: [reason: string];
  /** One connection attempt failed; the next one follows after `delayMs`. */
  'connect-failed': [reason: string, delayMs: number];
}

/**
 * One AMQP connection that re-establishes itself with capped exponential backoff (with jitter)
 * until `close()`. Callers ask for the open connection with a bounded wait.
 */
export class ConnectionManager extends EventEmitter<ConnectionEvents> {
  private model: ChannelModel | undefined;
  #generation = 0;
  private closed = false;
  private loop: Promise<void> | undefined;
  private readonly changed = new Wakeup();
  private lastError = 'not connected yet';
  /** Set while the last attempt was refused for credentials or certificates: callers fail at once. */
  private refused: AuthenticationError | undefined;
  private readonly stopRetry = new AbortController();
  readonly #options: ResolvedOptions;

  constructor(options: ResolvedOptions) {
    super();
    this.#options = options;
  }

  /** What `console.log` and `JSON.stringify` show: the broker and the state, never the URL or TLS material. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `ConnectionManager(${this.#options.broker}, ${this.model ? 'open' : 'closed'}, generation ${this.#generation})`;
  }

  toJSON(): { broker: string; open: boolean; generation: number } {
    return { broker: this.#options.broker, open: this.model !== undefined, generation: this.#generation };
  }

  /** Why the last attempt was refused (credentials, vhost, certificates), while it stands; else undefined. */
  get refusal(): AuthenticationError | undefined {
    return this.refused;
  }

  /**
   * The refusal of the next connection attempt to end (see `refusal`), or undefined: once an attempt connects or
   * fails, or after `waitMs` if none ends sooner.
   */
  firstAttempt(waitMs: number): Promise<AuthenticationError | undefined> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.off('connected', done).off('connect-failed', done);
        resolve(this.refused);
      };
      const timer = setTimeout(done, waitMs);
      this.on('connected', done).on('connect-failed', done);
    });
  }

  /** Number of connections opened so far; changes on every reconnect. */
  get generation(): number {
    return this.#generation;
  }

  private failed(error: unknown): void {
    this.lastError = foreignMessage(error, this.#options.scrub);
  }

  private start(): void {
    if (this.closed || this.model || this.loop) return;
    this.loop = this.connectLoop().finally(() => {
      this.loop = undefined;
    });
  }

  private async connectLoop(): Promise<void> {
    const { url, tls, connectionName, reconnectInitialMs, reconnectMaxMs } = this.#options;
    for (let attempt = 0; !this.closed && !this.model; attempt++) {
      try {
        const clientProperties = { connection_name: connectionName };
        // No Nagle: publishes, acks and deliveries share this socket, and a small write held back for the
        // previous segment's acknowledgement added 10-20 ms to a job's way to its consumer (see the README).
        const model = await amqp.connect(url, { ...tls, clientProperties, noDelay: true, timeout: 10_000 });
        coalesceWrites(model);
        if (this.closed) return void (await model.close().catch(() => undefined));
        return this.adopt(model);
      } catch (error) {
        this.failed(error);
        const typed = classifyError(error, 'connect', this.#options);
        this.refused = QueuekitError.is(typed, 'ERR_AUTH') ? typed : undefined;
        if (this.refused) this.changed.wake();
        const backoff = Math.min(reconnectMaxMs, reconnectInitialMs * 2 ** attempt);
        const delayMs = Math.round(backoff * (0.8 + Math.random() * 0.2));
        this.emit('connect-failed', this.lastError, delayMs);
        await abortableDelay(delayMs, this.stopRetry.signal);
      }
    }
  }

  private adopt(model: ChannelModel): void {
    model.on('error', (error: unknown) => this.failed(error));
    model.on('close', (error?: unknown) => {
      if (this.model !== model) return;
      this.model = undefined;
      if (error) this.failed(error);
      if (this.closed) return;
      this.emit('disconnected', this.lastError);
      this.start();
    });
    this.model = model;
    this.refused = undefined;
    this.emit('connected', ++this.#generation);
    this.changed.wake();
  }

  /**
   * The open connection, waiting up to `timeoutMs` for a (re)connect. Resolves `undefined` when
   * `signal` fires first; rejects with BrokerUnavailableError on timeout, QueueClosedError once closed,
   * and at once with AuthenticationError while the broker refuses our credentials or certificate
   * (reconnecting goes on in the background, with backoff, in case they are fixed).
   */
  async open(timeoutMs: number, signal?: AbortSignal): Promise<ChannelModel | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.closed) throw closedError();
      if (this.model) return this.model;
      if (signal?.aborted) return undefined;
      if (this.refused) throw this.refused;
      this.start();
      const woke = await this.changed.wait(deadline - Date.now(), signal);
      if (woke === 'timeout' && !this.model && !this.closed)
        throw new BrokerUnavailableError(
          `RabbitMQ unavailable for ${timeoutMs} ms (${this.lastError}); nothing was done`,
        );
    }
  }

  /** A new channel (plain or confirm) on the current connection. */
  async channel(confirm: false, timeoutMs: number): Promise<Channel>;
  async channel(confirm: true, timeoutMs: number): Promise<ConfirmChannel>;
  async channel(confirm: boolean, timeoutMs: number): Promise<Channel> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const model = (await this.open(Math.max(1, deadline - Date.now()))) as ChannelModel;
      try {
        const channel = confirm ? await model.createConfirmChannel() : await model.createChannel();
        // A channel error closes the channel; its 'close' listeners handle it. Never crash the process.
        channel.on('error', () => undefined);
        return channel;
      } catch (error) {
        this.failed(error);
        if (this.closed) throw closedError();
        if (Date.now() >= deadline)
          throw new BrokerUnavailableError(`Could not open a RabbitMQ channel (${this.lastError})`);
        await abortableDelay(50, this.stopRetry.signal);
      }
    }
  }

  /** Run `work` on a channel of its own, closed afterwards (which puts back what it got and did not ack). */
  async withChannel<R>(timeoutMs: number, work: (channel: Channel) => Promise<R>): Promise<R> {
    const channel = await this.channel(false, timeoutMs);
    try {
      return await work(channel);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Stop reconnecting and close the connection by `deadline` (epoch ms), else destroy its socket. */
  async close(deadline = Date.now() + CLOSE_TIMEOUT_MS): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopRetry.abort();
    this.changed.wake();
    const model = this.model;
    this.model = undefined;
    if (model && !(await settlesWithin(model.close(), deadline - Date.now())))
      (model as unknown as WithSocket).connection?.stream?.destroy?.();
    // A connect attempt in flight (a black hole answers no handshake) ends on its own timeout; don't wait for it.
    if (this.loop) await settlesWithin(this.loop, deadline - Date.now());
  }
}

/** A long-lived channel, reopened on demand after it (or its connection) closed; one opening is shared. */
export class ChannelSlot<C extends Channel> {
  private channel: C | undefined;
  private opening: Promise<C> | undefined;

  constructor(private readonly openChannel: (timeoutMs: number) => Promise<C>) {}

  get(timeoutMs: number): Promise<C> {
    if (this.channel) return Promise.resolve(this.channel);
    this.opening ??= this.openChannel(timeoutMs)
      .then((channel) => {
        this.channel = channel;
        channel.on('close', () => {
          if (this.channel === channel) this.channel = undefined;
        });
        return channel;
      })
      .finally(() => {
        this.opening = undefined;
      });
    return this.opening;
  }

  holds(channel: Channel): boolean {
    return this.channel === channel;
  }
}

export function deadLetterQueueName(queue: string): string {
  return `${queue}.dead-letter`;
}

/** The TTL wait queue of `queue` for delays up to `bucketMs`. */
export function waitQueueName(queue: string, bucketMs: number): string {
  return `${queue}.wait-${bucketMs}ms`;
}

type Declaration = [name: string, args: Record<string, unknown>];

const REDRIVE_BATCH = 100;
/** How long a redrive by id looks for ids it has not found yet (see `redrive`). */
const ID_SETTLE_MS = 2_000;

/**
 * The queues behind a logical queue, declared once per driver (durable): the work queue (dead-lettering into
 * `<queue>.dead-letter`, so RabbitMQ's own dead letters land there too), its dead-letter queue and, on first use,
 * the TTL wait queues of the delay buckets, which dead-letter back into the work queue. And the dead-letter API:
 * listing reads with `basic.get` without acking and closes its channel, which puts the messages back in place.
 */
export class Admin {
  private readonly declared = new Map<string, Promise<void>>();
  private readonly slot: ChannelSlot<Channel>;

  constructor(
    private readonly connection: ConnectionManager,
    /** The driver's options without its secrets (the URL, TLS material). */
    private readonly options: Omit<ResolvedOptions, 'url' | 'tls'>,
    private readonly publish: (publications: readonly Publication[]) => Promise<void>,
  ) {
    this.slot = new ChannelSlot((timeoutMs) => connection.channel(false, timeoutMs));
  }

  /** Every physical queue of `queue` with its arguments: work, dead-letter, then the wait queues. */
  private queues(queue: string): [Declaration, Declaration, ...Declaration[]] {
    const quorum = this.options.queueType === 'quorum';
    const dlx = (to: string) => ({ 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': to });
    const kind = quorum
      ? { 'x-queue-type': 'quorum', 'x-delivery-limit': this.options.deliveryLimit }
      : { 'x-max-priority': 10 };
    return [
      [queue, { ...dlx(deadLetterQueueName(queue)), ...kind }],
      [deadLetterQueueName(queue), quorum ? { 'x-queue-type': 'quorum' } : {}],
      ...this.options.delayBucketsMs.map(
        (bucket): Declaration => [waitQueueName(queue, bucket), { ...dlx(queue), 'x-message-ttl': bucket }],
      ),
    ];
  }

  /** The smallest bucket that holds `delayMs` (the largest when none does; the core never asks for more). */
  bucketFor(delayMs: number): number {
    const buckets = this.options.delayBucketsMs;
    return buckets.find((bucket) => delayMs <= bucket) ?? buckets[buckets.length - 1]!;
  }

  /** Declare (once per driver) the work queue and its dead-letter queue, or with `bucketMs` that wait queue. */
  ensure(queue: string, bucketMs?: number): Promise<void> {
    const key = bucketMs === undefined ? queue : waitQueueName(queue, bucketMs);
    const declared = this.declared.get(key);
    if (declared) return declared;
    const [work, dlq, ...waits] = this.queues(queue);
    const wanted = bucketMs === undefined ? [dlq, work] : waits.filter(([name]) => name === key);
    const pending = (async () => {
      for (const [name, args] of wanted) await this.declare(name, args);
    })();
    this.declared.set(key, pending);
    pending.catch(() => this.declared.delete(key));
    return pending;
  }

  /** After a delete, or a message returned as unroutable. */
  forget(queue: string): void {
    for (const [name] of this.queues(queue)) this.declared.delete(name);
  }

  /**
   * Declare (idempotently) and return the message count of a queue. A declare caught by its channel or
   * connection closing for another reason (a quorum queue's `basic.get` race, see the README) is repeated on a
   * new channel, within the outage timeout.
   */
  private async declare(name: string, args: Record<string, unknown>): Promise<number> {
    const deadline = Date.now() + this.options.unavailableTimeoutMs;
    for (;;) {
      const channel = await this.slot.get(Math.max(1, deadline - Date.now()));
      try {
        return (await channel.assertQueue(name, { durable: true, arguments: args })).messageCount;
      } catch (error) {
        // A numeric code: the broker closed the channel because of this very call (it would fail again).
        const closedUnderUs =
          !this.slot.holds(channel) && typeof (error as { code?: unknown }).code !== 'number';
        if (!closedUnderUs || Date.now() >= deadline)
          throw classifyError(error, `declare ${name}`, this.options);
      }
    }
  }

  /** Counts from declaring every queue of `queue`: waiting, delayed (all wait queues), dead-lettered. */
  async stats(queue: string): Promise<DriverStats> {
    await this.ensure(queue);
    const counts: number[] = [];
    for (const [name, args] of this.queues(queue)) counts.push(await this.declare(name, args));
    const [waiting = 0, deadLettered = 0, ...waits] = counts;
    return { waiting, delayed: waits.reduce((sum, n) => sum + n, 0), deadLettered };
  }

  async deleteQueue(queue: string): Promise<void> {
    this.forget(queue);
    await this.connection.withChannel(this.options.unavailableTimeoutMs, async (channel) => {
      for (const [name] of this.queues(queue)) await channel.deleteQueue(name);
    });
  }

  /** `work` on a channel of its own for the dead-letter queue of `queue` (declared first). */
  private async onDeadLetters<R>(queue: string, work: (channel: Channel, dlq: string) => Promise<R>) {
    await this.ensure(queue);
    const dlq = deadLetterQueueName(queue);
    return this.connection.withChannel(this.options.unavailableTimeoutMs, (channel) => work(channel, dlq));
  }

  /** Oldest first, at most `limit`, without consuming (unacked: closing the channel puts them back). */
  listDeadLetters(queue: string, limit: number): Promise<DeadLetteredMessage[]> {
    return this.onDeadLetters(queue, async (channel, dlq) => {
      const out: DeadLetteredMessage[] = [];
      while (out.length < limit) {
        const message = await channel.get(dlq, { noAck: false });
        if (!message) break;
        out.push(asDeadLetter(message));
      }
      return out;
    });
  }

  /** Re-publish (confirmed) the chosen dead letters to `queue` with `options.headers` applied, then ack them. */
  redriveDeadLetters(queue: string, { ids, headers }: RedriveOptions): Promise<number> {
    const wanted = ids ? new Set(ids) : undefined;
    return this.onDeadLetters(queue, async (channel, dlq) => {
      const { messageCount } = await channel.checkQueue(dlq);
      // A quorum queue puts back the messages a listing held (its channel closed) asynchronously, so right
      // after a list they may be missing from `messageCount` and from `basic.get` for a moment: ids asked for
      // and not found yet are looked for until this deadline.
      const deadline = Date.now() + ID_SETTLE_MS;
      const found = new Set<string>();
      const stillLooking = () => wanted !== undefined && found.size < wanted.size && Date.now() < deadline;
      const batch: GetMessage[] = [];
      let moved = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        await this.publish(batch.map((message) => redriven(queue, message, headers)));
        for (const message of batch) channel.ack(message);
        moved += batch.splice(0).length;
      };
      for (let seen = 0; seen < messageCount || stillLooking(); ) {
        const message = await channel.get(dlq, { noAck: false });
        if (!message) {
          seen = Math.max(seen, messageCount);
          await flush();
          if (stillLooking()) await abortableDelay(20); // polling, bounded by the deadline
          continue;
        }
        seen++;
        const id = message.properties.messageId as unknown;
        if (wanted && !(typeof id === 'string' && wanted.has(id))) continue;
        batch.push(message);
        found.add(typeof id === 'string' ? id : '');
        if (batch.length >= REDRIVE_BATCH) await flush();
      }
      await flush();
      return moved;
    });
  }

  purgeDeadLetters(queue: string): Promise<number> {
    return this.onDeadLetters(queue, async (channel, dlq) => (await channel.purgeQueue(dlq)).messageCount);
  }
}
