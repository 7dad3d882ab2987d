import { ConfigError } from '@queuekit/core';
import type { Channel, Options } from 'amqplib';
import type { ChannelSlot } from './channel-slot.js';
import type { ResolvedOptions } from './options.js';

/** Name of the dead-letter queue of `queue`. */
export function deadLetterQueueName(queue: string): string {
  return `${queue}.dead-letter`;
}

/** Name of the TTL wait queue of `queue` for delays up to `bucketMs`. */
export function waitQueueName(queue: string, bucketMs: number): string {
  return `${queue}.wait-${bucketMs}ms`;
}

/** The smallest bucket that holds `delayMs` (the largest when none does; the core never asks for more). */
export function bucketFor(buckets: readonly number[], delayMs: number): number {
  for (const bucket of buckets) if (delayMs <= bucket) return bucket;
  return buckets[buckets.length - 1] as number;
}

/**
 * Declares the queues behind a logical queue, once per driver: the work queue, its dead-letter
 * queue and, on first use, the TTL wait queues of the delay buckets. Queues are durable.
 */
export class Topology {
  private readonly declared = new Map<string, Promise<void>>();

  constructor(
    private readonly admin: ChannelSlot<Channel>,
    private readonly options: Pick<
      ResolvedOptions,
      'queueType' | 'deliveryLimit' | 'delayBucketsMs' | 'unavailableTimeoutMs'
    >,
  ) {}

  /** Arguments of the work queue (classic with priority, or quorum with a delivery limit). */
  workQueueArguments(queue: string): Record<string, unknown> {
    const common = {
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': deadLetterQueueName(queue),
    };
    return this.options.queueType === 'quorum'
      ? { ...common, 'x-queue-type': 'quorum', 'x-delivery-limit': this.options.deliveryLimit }
      : { ...common, 'x-max-priority': 10 };
  }

  /** Arguments of a wait queue: expired messages go back to the work queue through the default exchange. */
  waitQueueArguments(queue: string, bucketMs: number): Record<string, unknown> {
    return {
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': queue,
      'x-message-ttl': bucketMs,
    };
  }

  private deadLetterArguments(): Record<string, unknown> {
    return this.options.queueType === 'quorum' ? { 'x-queue-type': 'quorum' } : {};
  }

  /** Declare the work queue and its dead-letter queue (cached). */
  ensureQueue(queue: string): Promise<void> {
    return this.once(queue, async () => {
      await this.declare(deadLetterQueueName(queue), this.deadLetterArguments());
      await this.declare(queue, this.workQueueArguments(queue));
    });
  }

  /** Declare the wait queue of `bucketMs` for `queue` (cached). */
  ensureWaitQueue(queue: string, bucketMs: number): Promise<void> {
    const name = waitQueueName(queue, bucketMs);
    return this.once(name, () =>
      this.declare(name, this.waitQueueArguments(queue, bucketMs)).then(() => undefined),
    );
  }

  /** Forget what was declared for `queue` (after a delete, or a message returned as unroutable). */
  forget(queue: string): void {
    this.declared.delete(queue);
    for (const bucket of this.options.delayBucketsMs) this.declared.delete(waitQueueName(queue, bucket));
  }

  /**
   * Declare (idempotently) and return the message count of a queue. A declare caught by its channel
   * or connection closing (for another reason) is repeated on a new channel, within the outage timeout.
   */
  async declare(name: string, args: Record<string, unknown>): Promise<number> {
    const deadline = Date.now() + this.options.unavailableTimeoutMs;
    const options: Options.AssertQueue = { durable: true, arguments: args };
    for (;;) {
      const channel = await this.admin.get(Math.max(1, deadline - Date.now()));
      try {
        return (await channel.assertQueue(name, options)).messageCount;
      } catch (error) {
        const closedUnderUs = !this.admin.holds(channel) && !isChannelError(error);
        if (!closedUnderUs || Date.now() >= deadline) throw declareError(name, error);
      }
    }
  }

  private once(key: string, declare: () => Promise<void>): Promise<void> {
    let pending = this.declared.get(key);
    if (!pending) {
      pending = declare();
      this.declared.set(key, pending);
      pending.catch(() => this.declared.delete(key));
    }
    return pending;
  }

  /** Every physical queue name of `queue`, for deletion. */
  allNames(queue: string): string[] {
    return [
      queue,
      deadLetterQueueName(queue),
      ...this.options.delayBucketsMs.map((bucket) => waitQueueName(queue, bucket)),
    ];
  }
}

/** Whether the broker closed the channel because of this very call (it would fail again). */
function isChannelError(error: unknown): boolean {
  return typeof (error as { code?: unknown }).code === 'number';
}

function declareError(name: string, error: unknown): unknown {
  const code = (error as { code?: number }).code;
  if (code === 406) {
    return new ConfigError(
      'queueType',
      `queue \`${name}\` already exists with other arguments (${(error as Error).message}); delete it or match its type`,
    );
  }
  return error;
}
