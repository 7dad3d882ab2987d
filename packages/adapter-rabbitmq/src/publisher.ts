import { BrokerUnavailableError } from '@queuekit/core';
import type { ConfirmChannel, Message, Options } from 'amqplib';
import { ChannelSlot } from './channel-slot.js';
import type { ConnectionManager } from './connection.js';

/** One message to publish through the default exchange to `queue`. */
export interface Publication {
  readonly queue: string;
  readonly content: Buffer;
  readonly options: Options.Publish;
}

/**
 * Key that correlates a `basic.return` with its publication. RabbitMQ sends the return before the
 * confirm of the same message, so a returned key is claimed by the next confirm with that key.
 */
function returnKey(queue: string, messageId: unknown): string {
  return `${queue}\u0000${typeof messageId === 'string' ? messageId : ''}`;
}

/** Thrown when the broker returned messages as unroutable (their queue does not exist). */
export class UnroutableError extends Error {
  constructor(readonly queues: ReadonlySet<string>) {
    super(`Unroutable: no queue ${[...queues].map((q) => `\`${q}\``).join(', ')}`);
  }
}

type Outcome = 'confirmed' | 'retry' | 'returned' | 'nacked';

/**
 * Publishes on a confirm channel and resolves only when the broker confirmed every message.
 * Messages caught by a dropped channel or connection are published again once it is back
 * (at-least-once), until `timeoutMs` passes: then BrokerUnavailableError. Never silently lost:
 * `mandatory` makes the broker return messages it cannot route.
 */
export class Publisher {
  private readonly slot: ChannelSlot<ConfirmChannel>;
  /** Returned, not yet confirmed messages per return key. */
  private readonly returned = new Map<string, number>();

  constructor(connection: ConnectionManager) {
    this.slot = new ChannelSlot(connection, async (timeoutMs) => {
      const channel = await connection.channel(true, timeoutMs);
      channel.on('return', (message: Message) => {
        const key = returnKey(message.fields.routingKey, message.properties.messageId);
        this.returned.set(key, (this.returned.get(key) ?? 0) + 1);
      });
      return channel;
    });
  }

  /** Publish every message; resolve once all are confirmed. */
  async publish(publications: readonly Publication[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let pending = publications;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new BrokerUnavailableError(
          `RabbitMQ did not confirm ${pending.length} message(s) within ${timeoutMs} ms; they may not have been stored`,
        );
      }
      const channel = await this.slot.get(left);
      const outcomes = await this.publishOn(channel, pending);
      const retry: Publication[] = [];
      const unroutable = new Set<string>();
      let nacked = 0;
      outcomes.forEach((outcome, i) => {
        const publication = pending[i] as Publication;
        if (outcome === 'retry') retry.push(publication);
        else if (outcome === 'returned') unroutable.add(publication.queue);
        else if (outcome === 'nacked') nacked++;
      });
      if (nacked > 0) throw new BrokerUnavailableError(`RabbitMQ refused ${nacked} message(s) (basic.nack)`);
      if (unroutable.size > 0) throw new UnroutableError(unroutable);
      if (retry.length === 0) return;
      pending = retry;
    }
  }

  private claimReturn(key: string): boolean {
    const count = this.returned.get(key);
    if (count === undefined) return false;
    if (count <= 1) this.returned.delete(key);
    else this.returned.set(key, count - 1);
    return true;
  }

  private async publishOn(channel: ConfirmChannel, publications: readonly Publication[]): Promise<Outcome[]> {
    const confirmations: Promise<Outcome>[] = [];
    for (const publication of publications) {
      // Backpressure shared by every concurrent send: while the channel's write buffer is full, wait.
      const blocked = drains.get(channel);
      if (blocked) await blocked;
      if (!this.slot.holds(channel)) {
        confirmations.push(Promise.resolve('retry'));
        continue;
      }
      const key = returnKey(publication.queue, publication.options.messageId);
      const options: Options.Publish = { ...publication.options, mandatory: true };
      let writable = true;
      confirmations.push(
        new Promise<Outcome>((resolve) => {
          try {
            writable = channel.publish(
              '',
              publication.queue,
              publication.content,
              options,
              (error: unknown) => {
                const returned = this.claimReturn(key);
                if (!error) resolve(returned ? 'returned' : 'confirmed');
                else resolve(this.slot.holds(channel) ? 'nacked' : 'retry');
              },
            );
          } catch (error) {
            if (error instanceof RangeError) throw error;
            resolve('retry');
          }
        }),
      );
      if (!writable) await drained(channel);
    }
    return Promise.all(confirmations);
  }
}

const drains = new WeakMap<ConfirmChannel, Promise<void>>();

/** Resolve when the channel can take more writes, or when it closes. One listener pair per channel. */
function drained(channel: ConfirmChannel): Promise<void> {
  let pending = drains.get(channel);
  if (!pending) {
    pending = new Promise<void>((resolve) => {
      const done = () => {
        channel.off('drain', done);
        channel.off('close', done);
        drains.delete(channel);
        resolve();
      };
      channel.on('drain', done);
      channel.on('close', done);
    });
    drains.set(channel, pending);
  }
  return pending;
}
