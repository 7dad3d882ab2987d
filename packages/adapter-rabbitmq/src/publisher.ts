import { once } from 'node:events';
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

/** Header that correlates a `basic.return` with its publication (stripped on receive). */
const PUBLISH_ID_HEADER = 'x-qk-pid';

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
  private readonly returned = new Set<string>();
  private sequence = 0;

  constructor(connection: ConnectionManager) {
    this.slot = new ChannelSlot(connection, async (timeoutMs) => {
      const channel = await connection.channel(true, timeoutMs);
      channel.on('return', (message: Message) => {
        const pid = (message.properties.headers as Record<string, unknown> | undefined)?.[PUBLISH_ID_HEADER];
        if (typeof pid === 'string') this.returned.add(pid);
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

  private async publishOn(channel: ConfirmChannel, publications: readonly Publication[]): Promise<Outcome[]> {
    const confirmations: Promise<Outcome>[] = [];
    for (const publication of publications) {
      if (!this.slot.holds(channel)) {
        confirmations.push(Promise.resolve('retry'));
        continue;
      }
      const pid = String(++this.sequence);
      const options: Options.Publish = {
        ...publication.options,
        mandatory: true,
        headers: { ...publication.options.headers, [PUBLISH_ID_HEADER]: pid },
      };
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
                const returned = this.returned.delete(pid);
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

/** Resolve when the channel can take more writes, or when it closes. */
async function drained(channel: ConfirmChannel): Promise<void> {
  const controller = new AbortController();
  await Promise.race([
    once(channel, 'drain', { signal: controller.signal }).catch(() => undefined),
    once(channel, 'close', { signal: controller.signal }).catch(() => undefined),
  ]);
  controller.abort();
}
