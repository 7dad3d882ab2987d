/** The receive path: a consumer per queue bridged from push to pull, its deliveries, and atomic `ackWith`. */
import { randomUUID } from 'node:crypto';
import {
  type DeadLetterInfo,
  type Delivery,
  LockLostError,
  type OutgoingMessage,
  type QueuekitError,
  type ReceiveOptions,
} from '@queuekit/core';
import {
  Batcher,
  createDelivery,
  type DeliveryOperations,
  type FollowUps,
  Wakeup,
} from '@queuekit/core/driver-kit';
import type { Channel, ConsumeMessage, Message } from 'amqplib';
import { type ConnectionManager, deadLetterQueueName } from './admin.js';
import type { ResolvedOptions } from './options.js';
import { deadLettered, givenBack, type Publication, received } from './wire.js';

/** What a queue's consumer needs from its driver. */
export interface ReceiverHost {
  readonly connection: ConnectionManager;
  readonly options: Pick<ResolvedOptions, 'queueType' | 'unavailableTimeoutMs' | 'atomicFollowUps'>;
  readonly closed: AbortSignal;
  ensureQueue(queue: string): Promise<void>;
  plan(queue: string, messages: readonly OutgoingMessage[]): Promise<Publication[]>;
  publish(publications: readonly Publication[], redeclare?: string): Promise<void>;
  classifyError(error: unknown, operation: string): QueuekitError;
}

/** AMQP 0-9-1 method ids (class 90 `tx`): `(class << 16) | method`. amqplib has no tx API of its own. */
const TX_SELECT = (90 << 16) | 10;
const TX_COMMIT = (90 << 16) | 20;
type RpcChannel = { rpc(method: number, fields: Record<string, never>, expect: number): Promise<unknown> };

/**
 * The transaction mode of one (non-confirm) channel. Once selected, publishes, acks and nacks on the channel take
 * effect only at the next commit, so every settle on it goes through `run`. RabbitMQ refuses any frame on a
 * channel while its `tx.commit` is in flight (a connection error), so writes requested meanwhile wait, are then
 * written together and share the next commit (group commit). Each write is one synchronous block, so the frames
 * of one unit (a delivery's follow-ups and its ack) always land in the same commit.
 */
export class ChannelTransaction {
  private selecting: Promise<unknown> | undefined;
  private committing = false;
  private pending: { write: () => void; resolve: () => void; reject: (error: unknown) => void }[] = [];

  constructor(private readonly channel: Channel) {}

  /** Put the channel in transaction mode (once; later calls share the first). */
  async select(): Promise<void> {
    this.selecting ??= (this.channel as unknown as RpcChannel).rpc(TX_SELECT, {}, TX_SELECT + 1);
    await this.selecting;
  }

  /** Write frames (synchronously, in `write`); resolves once a commit including them succeeded. */
  run(write: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ write, resolve, reject });
      if (!this.committing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    const written = this.pending.splice(0).filter((item) => {
      try {
        item.write();
        return true;
      } catch (error) {
        item.reject(error);
        return false;
      }
    });
    if (written.length === 0) return;
    this.committing = true;
    const failure = await this.commit().then(
      () => undefined,
      (error: unknown) => ({ error }),
    );
    for (const item of written) failure ? item.reject(failure.error) : item.resolve();
    this.committing = false;
    void this.flush(); // not awaited: no promise chain grows while commits follow one another
  }

  /** One `tx.commit` round trip: commits every frame written on the channel before it. */
  async commit(): Promise<void> {
    await (this.channel as unknown as RpcChannel).rpc(TX_COMMIT, {}, TX_COMMIT + 1);
  }
}

/** A delivery of the current channel, in tag order, and how far it is settled. */
interface Tracked {
  readonly message: Message;
  /** `open`: held by the broker for us; `acking`: its ack waits for the next flush; `done`: acked or nacked. */
  state: 'open' | 'acking' | 'done';
}

const LOST = 'The channel of this delivery closed, or it was settled: RabbitMQ redelivers it';
/** The id of a message a foreign publisher sent without `messageId`. */
const fallbackId = () => `rabbitmq-${randomUUID()}`;
/** Settled entries of a channel's tag order are dropped once there are at least this many past its head. */
const COMPACT_AT = 1_024;

/**
 * The acks of one channel, written together through the kit's `Batcher`: acks asked for in one turn of the event
 * loop go out as one `basic.ack` with `multiple` for the tag that ends the longest run of the channel's oldest
 * deliveries all settled or being acked, single acks for the others. RabbitMQ's work per ack frame is most of its
 * CPU per job on a fast drain (one multiple ack per turn instead of one ack per job halved it for plain amqplib:
 * 57 -> 31 µs a job); the socket sees one frame instead of dozens. A multiple ack can only cover what it should:
 * every delivery of the channel (pushed or fetched) is tracked, in tag order, from the moment it arrives, and the
 * run stops at the first one still open. Acks not written when the channel is lost reject with LockLostError.
 */
class ChannelAcks {
  private readonly order: Tracked[] = [];
  private head = 0;
  /** Entries past `head` that make the order worth compacting (doubles with the open ones kept). */
  private compactAt = COMPACT_AT;
  /** Whether the channel is still ours: once not, pending acks fail (RabbitMQ requeues their messages). */
  private live = true;
  private readonly batcher = new Batcher<Tracked>(Number.POSITIVE_INFINITY, async (_, pending) => {
    if (!this.live) throw new LockLostError(LOST);
    try {
      this.write(pending);
    } catch {
      this.failed(this.channel);
      throw new LockLostError(LOST);
    }
    this.written(pending.length);
    return undefined;
  });

  constructor(
    readonly channel: Channel,
    /** `count` acks were written (they no longer count against the prefetch window). */
    private readonly written: (count: number) => void,
    /** Writing failed: the channel is unusable. */
    private readonly failed: (channel: Channel) => void,
  ) {}

  /** A delivery that just arrived on the channel (its tag is higher than every tracked one's). */
  track(message: Message): Tracked {
    const tracked: Tracked = { message, state: 'open' };
    this.order.push(tracked);
    return tracked;
  }

  /** Ack `tracked` with the others of this turn; resolves once written. */
  ack(tracked: Tracked): Promise<void> {
    tracked.state = 'acking';
    return this.batcher.add('', tracked);
  }

  /** Write the pending acks now (synchronously), or with `live: false` fail them (the channel is gone). */
  flush(live: boolean): void {
    this.live &&= live;
    void this.batcher.drain();
  }

  private write(pending: Tracked[]): void {
    const { order } = this;
    let last: Tracked | undefined;
    let head = this.head;
    for (; head < order.length; head++) {
      const tracked = order[head] as Tracked;
      if (tracked.state === 'open') break;
      if (tracked.state === 'acking') {
        tracked.state = 'done';
        last = tracked;
      }
    }
    this.head = head;
    // Settled entries behind an open one (a long job) are dropped too: only open and acking ones need an order.
    if (order.length - head >= this.compactAt) {
      let kept = 0;
      for (let i = head; i < order.length; i++) {
        const tracked = order[i] as Tracked;
        if (tracked.state !== 'done') order[kept++] = tracked;
      }
      order.length = kept;
      this.head = 0;
      this.compactAt = Math.max(COMPACT_AT, kept * 2);
    }
    // `last` is being acked now, so the broker holds it: its tag is never unknown.
    if (last) this.channel.ack(last.message, true);
    for (const tracked of pending)
      if (tracked.state === 'acking') {
        tracked.state = 'done';
        this.channel.ack(tracked.message);
      }
  }
}

/**
 * The push-to-pull bridge for one queue: an AMQP consumer (manual ack) on a channel of its own, whose prefetch
 * is the most the core has asked for (`unsettled + max`, i.e. its concurrency). The broker pushes at most that
 * many unacked messages; they wait in `buffer` until a receive hands them out. Deliveries belong to the channel
 * they came on: once it closes, the broker requeues them and their settle calls fail with LockLostError.
 * Buffered messages nobody takes for `idleMs` (the core stopped pulling) are given back.
 */
export class QueueConsumer {
  private channel: Channel | undefined;
  /** Transaction mode of `channel`, entered on the first delivery settled with follow-ups. */
  private transaction: ChannelTransaction | undefined;
  private consumerTag: string | undefined;
  private prefetch = 0;
  /** Acks and the tag order of `channel`'s deliveries. */
  private acks: ChannelAcks | undefined;
  private buffer: Tracked[] = [];
  private unsettled = 0;
  private readonly arrivals = new Wakeup();
  private starting: Promise<void> | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private lastTakeAt = 0;

  constructor(
    readonly queue: string,
    private readonly host: ReceiverHost,
    private readonly idleMs = 2_000,
  ) {}

  /**
   * Up to `max` deliveries: buffered ones, else what arrives within `waitMs`. `waitMs: 0` uses `basic.get`
   * (the core polling priority bands), so no consumer hoards messages in band queues.
   */
  async receive({ max: asked, waitMs, signal }: ReceiveOptions): Promise<Delivery[]> {
    const max = Math.max(0, Math.floor(asked));
    const deadline = Date.now() + waitMs;
    const timeoutMs = this.host.options.unavailableTimeoutMs;
    while (max > 0 && !this.host.closed.aborted) {
      if (signal.aborted) {
        await this.pause();
        return [];
      }
      const taken = this.take(max);
      if (taken.length > 0) return taken;
      if (waitMs <= 0) return this.getNow(max, timeoutMs);
      if (!(await this.host.connection.open(timeoutMs, signal))) continue;
      // Register (or widen) a consumer with room for `max` more deliveries.
      while (!(this.channel && this.consumerTag !== undefined && this.prefetch >= this.unsettled + max)) {
        this.starting ??= this.start(this.unsettled + max, timeoutMs).finally(() => {
          this.starting = undefined;
        });
        await this.starting;
      }
      const again = this.take(max);
      if (again.length > 0) return again;
      if (deadline <= Date.now()) return [];
      await this.arrivals.wait(deadline - Date.now(), signal);
    }
    return [];
  }

  private async openChannel(timeoutMs: number): Promise<Channel> {
    let channel = this.channel;
    if (!channel) {
      const opened = await this.host.connection.channel(false, timeoutMs);
      opened.on('close', () => this.lost(opened));
      this.lost(this.channel);
      this.channel = channel = opened;
      this.acks = new ChannelAcks(opened, this.freed, (failed) => void this.drop(failed));
    }
    await this.host.ensureQueue(this.queue);
    return channel;
  }

  /**
   * `work` on `channel`; undefined when the channel closed under it (what it fetched is back in the queue, the
   * next receive opens a new channel): only an error on a live channel is news.
   */
  private async unlessLost<R>(channel: Channel, work: () => Promise<R>): Promise<R | undefined> {
    try {
      return await work();
    } catch (error) {
      if (this.channel === channel) throw error;
      return undefined;
    }
  }

  private async getNow(max: number, timeoutMs: number): Promise<Delivery[]> {
    const channel = await this.openChannel(timeoutMs);
    const messages = await this.unlessLost(channel, async () => {
      const got: Tracked[] = [];
      while (got.length < max) {
        const message = await channel.get(this.queue, { noAck: false });
        if (!message || this.channel !== channel || !this.acks) break;
        // Tracked at once: a multiple ack written meanwhile must not pass over it.
        got.push(this.acks.track(message));
      }
      return got;
    });
    if (!messages?.length || this.channel !== channel) return [];
    this.unsettled += messages.length;
    return messages.map((tracked) => this.delivery(channel, tracked));
  }

  private async start(prefetch: number, timeoutMs: number): Promise<void> {
    const channel = await this.openChannel(timeoutMs);
    const previous = this.consumerTag;
    const consumer = await this.unlessLost(channel, async () => {
      await channel.prefetch(prefetch, false);
      return channel.consume(
        this.queue,
        (message) => (message ? this.arrived(channel, message) : this.cancelledByBroker(channel)),
        { noAck: false },
      );
    });
    if (!consumer || this.channel !== channel) return;
    this.consumerTag = consumer.consumerTag;
    this.prefetch = prefetch;
    if (previous !== undefined) await channel.cancel(previous).catch(() => undefined);
  }

  private arrived(channel: Channel, message: ConsumeMessage): void {
    if (this.channel !== channel || !this.acks) return;
    this.buffer.push(this.acks.track(message));
    if (this.arrivals.waiting > 0) this.arrivals.wake();
    this.armIdleTimer();
  }

  private armIdleTimer(): void {
    if (this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.buffer.length === 0) return;
      if (this.arrivals.waiting > 0 || Date.now() - this.lastTakeAt < this.idleMs) return this.armIdleTimer();
      this.pause().catch(() => undefined);
    }, this.idleMs);
    this.idleTimer.unref?.();
  }

  /** The queue was deleted under the consumer: register again (and redeclare) on next use. */
  private cancelledByBroker(channel: Channel): void {
    if (this.channel !== channel) return;
    this.consumerTag = undefined;
    this.prefetch = 0;
    this.arrivals.wake();
  }

  /** `channel` is gone (closed, or replaced): forget everything that belonged to it. */
  private lost(channel: Channel | undefined): void {
    if (this.channel !== channel) return;
    const acks = this.acks;
    this.channel = this.transaction = this.consumerTag = this.acks = undefined;
    this.prefetch = this.unsettled = 0;
    this.buffer = [];
    acks?.flush(false); // acks not written yet fail: RabbitMQ requeues their messages
    this.arrivals.wake();
  }

  /** `count` deliveries were settled: they no longer count against the prefetch window. */
  private readonly freed = (count: number): void => {
    this.unsettled = Math.max(0, this.unsettled - count);
  };

  /** Up to `max` buffered deliveries, handed out. */
  private take(max: number): Delivery[] {
    const { channel } = this;
    if (!channel || this.buffer.length === 0) return [];
    const messages = this.buffer.splice(0, max);
    this.unsettled += messages.length;
    this.lastTakeAt = Date.now();
    return messages.map((tracked) => this.delivery(channel, tracked));
  }

  /**
   * Settle `settled` on `channel` by writing frames (`action`, synchronous): directly, or in its transaction once
   * it has one (resolving once committed); `transactional` puts it in transaction mode first. False when the
   * channel is gone (the broker requeued the messages) or the commit failed.
   */
  private async settle(channel: Channel, settled: Tracked[], action: () => void, transactional = false) {
    if (this.channel !== channel) return false;
    const write = () => {
      action();
      for (const tracked of settled) tracked.state = 'done';
    };
    try {
      // Acks of this turn go out before `tx.select`: after it they would wait for a commit.
      if (transactional && !this.transaction) this.acks?.flush(true);
      if (transactional) this.transaction ??= new ChannelTransaction(channel);
      if (transactional) await this.transaction?.select();
      if (this.channel !== channel) return false;
      if (this.transaction) await this.transaction.run(write);
      else write();
    } catch {
      return this.drop(channel);
    }
    if (this.channel === channel) this.freed(settled.length);
    return true;
  }

  private delivery(channel: Channel, tracked: Tracked): Delivery {
    const { host, queue } = this;
    const { message } = tracked;
    const classify = host.classifyError;
    const fields = received(message, host.options.queueType, fallbackId);
    const settle = async (action: () => void, transactional = false) => {
      if (!(await this.settle(channel, [tracked], action, transactional))) throw new LockLostError(LOST);
    };
    // With the other acks of this turn (see ChannelAcks), or in the channel's transaction once it has one.
    const ack = (): Promise<void> => {
      const { acks } = this;
      if (acks && this.channel === channel && !this.transaction) return acks.ack(tracked);
      return settle(() => channel.ack(message));
    };
    const operations: DeliveryOperations = {
      ack,
      deadLetter: async (info: DeadLetterInfo) => {
        if (this.channel !== channel) return ack(); // LockLostError, nothing published
        const copy = (lean: boolean) =>
          deadLettered(deadLetterQueueName(queue), message, info, fields.deliveryCount, lean);
        // A table amqplib cannot encode (a foreign header near 64 KiB, plus the dead-letter headers) is a
        // RangeError before anything is written: the copy then goes with the message's own core headers only.
        await host.publish([copy(false)], queue).catch((error: unknown) => {
          if (!(error instanceof RangeError)) throw error;
          return host.publish([copy(true)], queue);
        });
        await ack();
      },
    };
    if (host.options.atomicFollowUps)
      operations.ackWith = async (followUps: FollowUps) => {
        const publications: Publication[] = [];
        for (const { queue: target, messages } of followUps)
          publications.push(...(await host.plan(target, messages)));
        if (publications.length === 0) return ack();
        // Every frame of this unit is written in one synchronous block, so no commit of another delivery can
        // split it: the follow-ups and the ack are committed together or not at all.
        await settle(() => {
          for (const { queue: target, content, options } of publications)
            channel.publish('', target, content, options);
          channel.ack(message);
        }, true);
      };
    // No lock runs out: a delivery is held until it is settled or its channel closes.
    const lockedUntil = Number.POSITIVE_INFINITY;
    return createDelivery({ message: fields, lockedUntil, provider: 'rabbitmq', classify, operations });
  }

  /**
   * The core stopped consuming: cancel the consumer so the broker stops pushing, and give the buffered (never
   * handed out) messages back as fresh, confirmed copies, acking the originals, so they do not come back flagged
   * "redelivered" (which would cost the job an attempt); if that fails, requeue them (flagged).
   */
  async pause(): Promise<void> {
    const { channel, consumerTag } = this;
    if (!channel) return;
    if (consumerTag !== undefined) {
      this.consumerTag = undefined;
      this.prefetch = 0;
      await channel.cancel(consumerTag).catch(() => undefined);
    }
    if (this.channel !== channel || this.buffer.length === 0) return;
    const buffered = this.buffer.splice(0);
    this.unsettled += buffered.length;
    const settleAll = (action: (message: Message) => void) =>
      this.settle(channel, buffered, () => {
        for (const tracked of buffered) action(tracked.message);
      });
    const copies = buffered.map((tracked) => givenBack(this.queue, tracked.message));
    const acked = await this.host.publish(copies).then(
      () => settleAll((message) => channel.ack(message)),
      () => false,
    );
    // Else requeue them (or, if the channel closed, RabbitMQ requeues them itself).
    if (!acked) await settleAll((message) => channel.nack(message, false, true));
  }

  /** Close the channel: every unacked message goes back to the queue. */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    await this.pause().catch(() => undefined);
    if (this.channel) await this.drop(this.channel);
  }

  /** Forget `channel` and close it: the broker rolls back what was not committed and requeues unacked messages. */
  private async drop(channel: Channel): Promise<false> {
    // Acks asked for before the close are written first (they were promised); then everything else is requeued.
    if (this.channel === channel) this.acks?.flush(true);
    this.lost(channel);
    await channel.close().catch(() => undefined);
    return false;
  }
}
