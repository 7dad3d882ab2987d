/** Queue creation, counts by peeking, the `$DeadLetterQueue` subqueue. SDK errors are left to the driver to map. */
import type {
  ServiceBusAdministrationClient,
  ServiceBusClient,
  ServiceBusReceivedMessage,
  ServiceBusReceiver,
  ServiceBusSender,
} from '@azure/service-bus';
import type { DeadLetteredMessage, DriverStats, RedriveOptions } from '@queuekit/core';
import Long from 'long';
import { isEntityExisting } from './errors.js';
import type { ServiceBusQueueDefaults } from './options.js';
import { withoutBatchWait } from './receiver.js';
import { DEAD_LETTERED_AT, toDeadLettered, toReceivedMessage, toServiceBusMessage } from './wire.js';

/** Peek and receive page size. */
const PAGE = 250;
/** Stats stop counting past this many messages (the field is then left out). */
const STATS_PEEK_CAP = 5000;
/** Wait for the first dead letter of a receive during redrive and purge. */
const DLQ_DRAIN_WAIT_MS = 1000;

/** Create `queue` through the administration API unless it exists. */
export async function createQueueIfMissing(
  admin: ServiceBusAdministrationClient,
  queue: string,
  defaults: ServiceBusQueueDefaults | undefined,
  duplicateDetection: boolean,
): Promise<void> {
  if (await admin.queueExists(queue)) return;
  await admin
    .createQueue(queue, {
      lockDuration: `PT${Math.round((defaults?.lockDurationMs ?? 60_000) / 1000)}S`,
      // High: the core counts attempts; the broker's limit only stops endless crash loops.
      maxDeliveryCount: defaults?.maxDeliveryCount ?? 100,
      requiresDuplicateDetection: duplicateDetection,
    })
    .catch((error: unknown) => {
      // The administration API's 409 (RestError 'MessageEntityAlreadyExistsError'): another client created it.
      if (!isEntityExisting(error)) throw error;
    });
}

/** Peek the messages of `queue` (or of its dead-letter subqueue) up to `cap`; `complete` when all were seen. */
async function peekAll(client: ServiceBusClient, queue: string, cap: number, deadLetter: boolean) {
  const receiver = client.createReceiver(queue, {
    ...(deadLetter ? { subQueueType: 'deadLetter' as const } : {}),
    skipParsingBodyAsJson: true,
  });
  const messages: ServiceBusReceivedMessage[] = [];
  try {
    let fromSequenceNumber = Long.ZERO;
    while (messages.length < cap) {
      const page = await receiver.peekMessages(Math.min(PAGE, cap - messages.length), { fromSequenceNumber });
      const last = page[page.length - 1]?.sequenceNumber;
      messages.push(...page);
      if (!last) return { messages, complete: true };
      fromSequenceNumber = Long.fromValue(last).add(1);
    }
    return { messages, complete: false };
  } finally {
    await receiver.close().catch(() => undefined);
  }
}

/**
 * Counts by peeking: Service Bus has no AMQP count operation (the administration API's runtime properties
 * need HTTPS and Manage rights). `waiting` excludes messages locked right now.
 */
export async function countMessages(client: ServiceBusClient, queue: string): Promise<DriverStats> {
  const [main, dead] = await Promise.all([
    peekAll(client, queue, STATS_PEEK_CAP, false),
    peekAll(client, queue, STATS_PEEK_CAP, true),
  ]);
  const now = Date.now();
  const counts = { waiting: 0, delayed: 0, active: 0 };
  for (const message of main.messages) {
    if (message.state === 'scheduled') counts.delayed++;
    else if (message.state === 'active')
      counts[message.lockedUntilUtc && message.lockedUntilUtc.getTime() > now ? 'active' : 'waiting']++;
  }
  return {
    ...(main.complete ? counts : {}),
    ...(dead.complete ? { deadLettered: dead.messages.length } : {}),
  };
}

export async function listDeadLetters(client: ServiceBusClient, queue: string, limit: number) {
  const { messages } = await peekAll(client, queue, Math.max(0, limit), true);
  return messages.map(toDeadLettered) satisfies DeadLetteredMessage[];
}

/**
 * Receive the dead letters under lock; re-send the chosen ones as new messages (fresh delivery count, headers
 * overwritten) and complete them. Each is moved once: a redriven job dead-lettered again while the subqueue is
 * drained stays there.
 */
export async function redriveDeadLetters(
  client: ServiceBusClient,
  sender: ServiceBusSender,
  queue: string,
  { ids, headers }: RedriveOptions,
): Promise<number> {
  const wanted = ids ? new Set(ids) : undefined;
  const startedAt = Date.now();
  const resent = new Set<string>();
  return drainDeadLetters(client, queue, async (receiver, message) => {
    const again = Number(message.applicationProperties?.[DEAD_LETTERED_AT]) >= startedAt;
    if (again || resent.has(String(message.messageId))) return false;
    const received = toReceivedMessage(message);
    if (wanted && !wanted.has(received.id)) return false;
    const copy = toServiceBusMessage({
      id: received.id,
      name: received.name ?? received.headers['qk-name'] ?? 'default',
      body: received.body,
      headers: { ...received.headers, ...headers },
    });
    resent.add(String(copy.messageId));
    await sender.sendMessages(copy);
    await receiver.completeMessage(message);
    return true;
  });
}

export function purgeDeadLetters(client: ServiceBusClient, queue: string): Promise<number> {
  return drainDeadLetters(client, queue, async (receiver, message) => {
    await receiver.completeMessage(message);
    return true;
  });
}

/**
 * Receive every dead letter once; `visit` settles it and returns true, or returns false to keep it (it is
 * abandoned at the end, so it stays in the subqueue). Resolves with the count settled.
 */
async function drainDeadLetters(
  client: ServiceBusClient,
  queue: string,
  visit: (receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage) => Promise<boolean>,
): Promise<number> {
  const receiver = withoutBatchWait(
    client.createReceiver(queue, {
      subQueueType: 'deadLetter',
      maxAutoLockRenewalDurationInMs: 0,
      skipParsingBodyAsJson: true,
    }),
  );
  const kept: ServiceBusReceivedMessage[] = [];
  let settled = 0;
  try {
    // A peek answers at once, so an empty subqueue (most priority bands) costs no receive wait. From 0
    // explicitly: without it the SDK continues after the last message any peek of this entity saw.
    if ((await receiver.peekMessages(1, { fromSequenceNumber: Long.ZERO })).length === 0) return 0;
    for (;;) {
      const batch = await receiver.receiveMessages(PAGE, { maxWaitTimeInMs: DLQ_DRAIN_WAIT_MS });
      for (const message of batch)
        if (await visit(receiver, message)) settled++;
        else kept.push(message);
      // The SDK drains the link before it answers: fewer than asked is all the subqueue had.
      if (batch.length < PAGE) return settled;
    }
  } finally {
    for (const message of kept) await receiver.abandonMessage(message).catch(() => undefined);
    await receiver.close().catch(() => undefined);
  }
}
