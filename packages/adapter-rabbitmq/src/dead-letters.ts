import type { DeadLetteredMessage, RedriveOptions } from '@queuekit/core';
import type { Channel, GetMessage } from 'amqplib';
import type { ConnectionManager } from './connection.js';
import {
  ATTEMPTS_HEADER,
  copyOptions,
  DEAD_LETTERED_AT_HEADER,
  DELIVERY_COUNT_HEADER,
  DRIVER_HEADER_PREFIX,
  deadLetterReason,
  rawHeader,
  receivedFields,
} from './messages.js';
import type { Publication, Publisher } from './publisher.js';
import { deadLetterQueueName } from './topology.js';
import { abortableDelay, CORE_HEADERS } from '@queuekit/core';

const REDRIVE_BATCH = 100;
/** How long a redrive by id looks for ids it has not found yet (see `redrive`). */
const ID_SETTLE_MS = 2_000;
const EMPTY_GET_PAUSE_MS = 20;

/**
 * The portable dead-letter API on a RabbitMQ dead-letter queue. Listing reads messages with
 * `basic.get` without acking and closes its channel, which puts them back in place; redrive
 * re-publishes the chosen ones (confirmed) and acks them; purge is `queue.purge`.
 */
export class DeadLetterQueue {
  constructor(
    private readonly connection: ConnectionManager,
    private readonly publisher: Publisher,
    private readonly timeoutMs: number,
  ) {}

  private async withChannel<R>(work: (channel: Channel) => Promise<R>): Promise<R> {
    const channel = await this.connection.channel(false, this.timeoutMs);
    try {
      return await work(channel);
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Oldest first, at most `limit`, without consuming. */
  list(queue: string, limit: number): Promise<DeadLetteredMessage[]> {
    return this.withChannel(async (channel) => {
      const out: DeadLetteredMessage[] = [];
      while (out.length < limit) {
        const message = await channel.get(deadLetterQueueName(queue), { noAck: false });
        if (!message) break;
        out.push(toDeadLettered(message));
      }
      return out;
    });
  }

  /** Re-publish the chosen dead letters to `queue` with `options.headers` applied, then remove them. */
  redrive(queue: string, options: RedriveOptions): Promise<number> {
    const wanted = options.ids ? new Set(options.ids) : undefined;
    const dlq = deadLetterQueueName(queue);
    return this.withChannel(async (channel) => {
      const { messageCount } = await channel.checkQueue(dlq);
      // A quorum queue puts back the messages a listing held (its channel closed) asynchronously, so
      // right after a list they may be missing from `messageCount` and from `basic.get` for a moment:
      // ids asked for and not found yet are looked for until this deadline.
      const deadline = Date.now() + ID_SETTLE_MS;
      const found = new Set<string>();
      const stillLooking = () => wanted !== undefined && found.size < wanted.size && Date.now() < deadline;
      let moved = 0;
      let seen = 0;
      while (seen < messageCount || stillLooking()) {
        const batch: GetMessage[] = [];
        while (batch.length < REDRIVE_BATCH && (seen < messageCount || stillLooking())) {
          const message = await channel.get(dlq, { noAck: false });
          if (!message) {
            seen = Math.max(seen, messageCount);
            if (batch.length > 0 || !stillLooking()) break;
            await abortableDelay(EMPTY_GET_PAUSE_MS); // polling, bounded by the deadline
            continue;
          }
          seen++;
          const id = receivedFields(message, '', 'classic').id;
          if (!wanted || wanted.has(id)) {
            batch.push(message);
            found.add(id);
          }
        }
        if (batch.length === 0) continue;
        await this.publisher.publish(
          batch.map((message) => redriven(queue, message, options.headers)),
          this.timeoutMs,
        );
        for (const message of batch) channel.ack(message);
        moved += batch.length;
      }
      return moved;
    });
  }

  /** Delete every dead letter of `queue`. */
  purge(queue: string): Promise<number> {
    return this.withChannel(
      async (channel) => (await channel.purgeQueue(deadLetterQueueName(queue))).messageCount,
    );
  }
}

function toDeadLettered(message: GetMessage): DeadLetteredMessage {
  // The delivery count of a dead letter is the one recorded when it was dead-lettered (below).
  const fields = receivedFields(message, `rabbitmq-dlq-${message.fields.deliveryTag}`, 'classic');
  const attempts = Number(rawHeader(message, ATTEMPTS_HEADER));
  const deliveryCount = Number(rawHeader(message, DELIVERY_COUNT_HEADER));
  const at = Number(rawHeader(message, DEAD_LETTERED_AT_HEADER));
  const error = rawHeader(message, CORE_HEADERS.deadLetterError);
  return {
    ...fields,
    deliveryCount: Number.isInteger(deliveryCount) && deliveryCount > 0 ? deliveryCount : 1,
    reason: deadLetterReason(message),
    ...(error === undefined ? {} : { error }),
    ...(Number.isInteger(attempts) && attempts > 0 ? { attempts } : {}),
    ...(Number.isFinite(at) && at > 0 ? { deadLetteredAt: new Date(at) } : {}),
  };
}

function redriven(
  queue: string,
  message: GetMessage,
  overrides: Readonly<Record<string, string>>,
): Publication {
  const headers: Record<string, unknown> = {};
  for (const [key, value] of Object.entries((message.properties.headers ?? {}) as Record<string, unknown>)) {
    if (key.startsWith(DRIVER_HEADER_PREFIX) || key.startsWith('x-death') || key.startsWith('x-first-death'))
      continue;
    if (key === CORE_HEADERS.deadLetterReason || key === CORE_HEADERS.deadLetterError) continue;
    if (key === 'x-delivery-count' || key.startsWith('x-last-death')) continue;
    headers[key] = value;
  }
  Object.assign(headers, overrides);
  return { queue, content: message.content, options: copyOptions(message, headers) };
}
