import type { Channel, ConsumeMessage, Message } from 'amqplib';
import type { ConnectionManager } from './connection.js';
import { ChannelTransaction } from './transaction.js';

/**
 * The push-to-pull bridge for one queue: an AMQP consumer (manual ack) on a channel of its own,
 * whose prefetch is the most the core has asked for (`unsettled + max`, i.e. its concurrency).
 * The broker pushes at most that many unacked messages; they wait in `buffer` until `take`
 * hands them to the core. Deliveries belong to the channel they came on: once it closes, the
 * broker requeues them and their settle calls fail with LockLostError.
 */
export class QueueConsumer {
  private channel: Channel | undefined;
  /** Transaction mode of `channel`, entered on the first delivery settled with follow-ups. */
  private transaction: ChannelTransaction | undefined;
  private consumerTag: string | undefined;
  private prefetch = 0;
  private buffer: Message[] = [];
  private unsettled = 0;
  private readonly waiters = new Set<() => void>();
  private starting: Promise<void> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private lastTakeAt = 0;

  /**
   * @param giveBack puts buffered, never handed out messages back in the queue without marking them
   *   redelivered (the driver re-publishes confirmed copies and acks the originals through `settle`,
   *   which commits them when the channel is in transaction mode).
   * @param idleMs buffered messages nobody takes for this long are given back (the core stopped pulling).
   */
  constructor(
    readonly queue: string,
    private readonly connection: ConnectionManager,
    private readonly declare: () => Promise<void>,
    private readonly giveBack: (
      messages: Message[],
      settle: (action: (channel: Channel) => void) => Promise<void>,
    ) => Promise<void>,
    private readonly idleMs = 2_000,
  ) {}

  /** Whether a consumer is registered with at least `prefetch` credit. */
  private ready(prefetch: number): boolean {
    return this.channel !== undefined && this.consumerTag !== undefined && this.prefetch >= prefetch;
  }

  /** Make sure a consumer with room for `max` more deliveries is registered (waits for the broker). */
  async ensure(max: number, timeoutMs: number): Promise<void> {
    while (!this.ready(this.unsettled + max)) {
      if (!this.starting) {
        this.starting = this.start(this.unsettled + max, timeoutMs).finally(() => {
          this.starting = undefined;
        });
      }
      await this.starting;
    }
  }

  /** The consumer's channel, opened (and the queue declared) when needed. */
  private async openChannel(timeoutMs: number): Promise<Channel> {
    let channel = this.channel;
    if (!channel) {
      channel = await this.connection.channel(false, timeoutMs);
      const opened = channel;
      opened.on('close', () => this.lost(opened));
      this.channel = opened;
      this.transaction = undefined;
      this.buffer = [];
      this.unsettled = 0;
      this.prefetch = 0;
      this.consumerTag = undefined;
    }
    await this.declare();
    return channel;
  }

  /**
   * Take up to `max` messages right now with `basic.get` (no consumer, nothing buffered): the
   * primitive for `waitMs: 0`, e.g. the core polling priority bands.
   */
  async getNow(
    max: number,
    timeoutMs: number,
  ): Promise<{ channel: Channel; messages: Message[] } | undefined> {
    const buffered = this.take(max);
    if (buffered) return buffered;
    const channel = await this.openChannel(timeoutMs);
    const messages: Message[] = [];
    try {
      while (messages.length < max && this.channel === channel) {
        const message = await channel.get(this.queue, { noAck: false });
        if (!message) break;
        messages.push(message);
        this.unsettled++;
      }
    } catch (error) {
      // The channel (or its connection) closed under the get: what it fetched is back in the queue
      // already, and the next receive opens a new channel. Only an error on a live channel is news.
      if (this.channel === channel) throw error;
      return undefined;
    }
    return messages.length > 0 ? { channel, messages } : undefined;
  }

  private async start(prefetch: number, timeoutMs: number): Promise<void> {
    const channel = await this.openChannel(timeoutMs);
    const previous = this.consumerTag;
    let consumerTag: string;
    try {
      await channel.prefetch(prefetch, false);
      ({ consumerTag } = await channel.consume(
        this.queue,
        (message) => (message ? this.arrived(channel, message) : this.cancelledByBroker(channel)),
        { noAck: false },
      ));
    } catch (error) {
      // Closed under us (see getNow): `ensure` starts again on a new channel.
      if (this.channel === channel) throw error;
      return;
    }
    if (this.channel !== channel) return;
    this.consumerTag = consumerTag;
    this.prefetch = prefetch;
    if (previous !== undefined) await channel.cancel(previous).catch(() => undefined);
  }

  private arrived(channel: Channel, message: ConsumeMessage): void {
    if (this.channel !== channel) return;
    this.buffer.push(message);
    this.wake();
    this.armIdleTimer();
  }

  private armIdleTimer(): void {
    if (this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.buffer.length === 0) return;
      const idleFor = Date.now() - this.lastTakeAt;
      if (this.waiters.size > 0 || idleFor < this.idleMs) return this.armIdleTimer();
      this.pause().catch(() => undefined);
    }, this.idleMs);
    this.idleTimer.unref?.();
  }

  /** The queue was deleted under the consumer: register again (and redeclare) on next use. */
  private cancelledByBroker(channel: Channel): void {
    if (this.channel !== channel) return;
    this.consumerTag = undefined;
    this.prefetch = 0;
    this.wake();
  }

  private lost(channel: Channel): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    this.transaction = undefined;
    this.consumerTag = undefined;
    this.prefetch = 0;
    this.buffer = [];
    this.unsettled = 0;
    this.wake();
  }

  private wake(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** Hand up to `max` buffered messages to the caller; each must then be settled through `settle`. */
  take(max: number): { channel: Channel; messages: Message[] } | undefined {
    if (!this.channel || this.buffer.length === 0) return undefined;
    const messages = this.buffer.splice(0, max);
    this.unsettled += messages.length;
    this.lastTakeAt = Date.now();
    return { channel: this.channel, messages };
  }

  /**
   * Run `settle` (ack / nack, and with it any publishes of the same unit) for a message taken from
   * `channel`; on a channel in transaction mode, resolves once committed. Resolves false when that
   * channel is gone (the broker has requeued the message) or the commit failed.
   */
  async settle(channel: Channel, settle: (channel: Channel) => void): Promise<boolean> {
    if (this.channel !== channel) return false;
    try {
      await this.write(channel, settle);
    } catch {
      return false;
    }
    if (this.channel === channel) this.unsettled = Math.max(0, this.unsettled - 1);
    return true;
  }

  /**
   * The transaction of `channel` (the current consumer channel), putting it in transaction mode:
   * from then on every settle on it is committed (see {@link settle}).
   * Undefined when that channel is gone.
   */
  async transactional(channel: Channel): Promise<ChannelTransaction | undefined> {
    if (this.channel !== channel) return undefined;
    this.transaction ??= new ChannelTransaction(channel);
    const transaction = this.transaction;
    try {
      await transaction.select();
    } catch (error) {
      this.lost(channel);
      await channel.close().catch(() => undefined);
      throw error;
    }
    return this.channel === channel ? transaction : undefined;
  }

  /**
   * Write settle frames (`action`, synchronous) on `channel`: directly, or, once the channel is in
   * transaction mode, through its transaction (resolving once committed). When the commit fails the
   * channel is closed, so the broker rolls back what was not committed and requeues unacked messages.
   */
  private async write(channel: Channel, action: (channel: Channel) => void): Promise<void> {
    const transaction = this.channel === channel ? this.transaction : undefined;
    if (!transaction?.active) return action(channel);
    try {
      await transaction.run(() => action(channel));
    } catch (error) {
      this.lost(channel);
      await channel.close().catch(() => undefined);
      throw error;
    }
  }

  /** Whether deliveries taken from `channel` can still be settled. */
  owns(channel: Channel): boolean {
    return this.channel === channel;
  }

  /** Wait until a message arrives, the channel changes, `ms` pass or `signal` fires. */
  waitForMessage(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * The core stopped consuming: cancel the consumer so the broker stops pushing, and give the
   * buffered (never handed out) messages back. Deliveries already handed out stay settleable.
   */
  async pause(): Promise<void> {
    const channel = this.channel;
    const tag = this.consumerTag;
    if (!channel) return;
    if (tag !== undefined) {
      this.consumerTag = undefined;
      this.prefetch = 0;
      await channel.cancel(tag).catch(() => undefined);
    }
    if (this.channel !== channel || this.buffer.length === 0) return;
    const buffered = this.buffer;
    this.buffer = [];
    this.unsettled += buffered.length;
    try {
      await this.giveBack(buffered, (action) => this.write(channel, action));
    } finally {
      if (this.channel === channel) this.unsettled = Math.max(0, this.unsettled - buffered.length);
    }
  }

  /** Close the channel: every unacked message goes back to the queue. */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    await this.pause().catch(() => undefined);
    const channel = this.channel;
    if (!channel) return;
    this.lost(channel);
    await channel.close().catch(() => undefined);
  }
}
