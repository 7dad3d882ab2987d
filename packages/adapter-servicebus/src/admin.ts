/**
 * Queue management and inspection over the SDK: creating queues, counting by peeking, and the
 * `$DeadLetterQueue` subqueue (listing, redrive, purge). SDK errors are left to the driver to map.
 */
import type {
  ServiceBusAdministrationClient,
  ServiceBusClient,
  ServiceBusReceivedMessage,
  ServiceBusReceiver,
  ServiceBusSender,
} from '@azure/service-bus';
import type { DeadLetteredMessage, DriverStats, RedriveOptions } from '@queuekit/core';
import Long from 'long';
import type { ServiceBusQueueDefaults } from './options.js';
import {
  ATTEMPTS_PROPERTY,
  DEAD_LETTER_DESCRIPTION,
  DEAD_LETTER_REASON,
  DEAD_LETTERED_AT_PROPERTY,
  toReceivedMessage,
  toServiceBusMessage,
} from './wire.js';

/** Peek page size for stats and listing. */
const PEEK_PAGE = 250;
/** Stats stop counting past this many messages (the field is then left out). */
const STATS_PEEK_CAP = 5000;
/** Wait for the next dead letter during redrive and purge before calling the subqueue empty. */
const DLQ_DRAIN_WAIT_MS = 1000;
/** Broker-side delivery limit for queues this driver creates: high, the core counts attempts. */
const CREATED_MAX_DELIVERY_COUNT = 100;

/** Create `queue` through the administration API unless it exists. */
export async function createQueueIfMissing(
  admin: ServiceBusAdministrationClient,
  queue: string,
  defaults: ServiceBusQueueDefaults | undefined,
  duplicateDetection: boolean,
): Promise<void> {
  if (await admin.queueExists(queue)) return;
  try {
    await admin.createQueue(queue, {
      lockDuration: `PT${Math.round((defaults?.lockDurationMs ?? 60_000) / 1000)}S`,
      maxDeliveryCount: defaults?.maxDeliveryCount ?? CREATED_MAX_DELIVERY_COUNT,
      requiresDuplicateDetection: duplicateDetection,
    });
  } catch (error) {
    if ((error as { code?: string }).code !== 'MessagingEntityAlreadyExists') throw error;
  }
}

/** Peek every message of `queue` (or its dead-letter subqueue), up to `cap`. */
async function peekAll(
  client: ServiceBusClient,
  queue: string,
  cap: number,
  deadLetter: boolean,
): Promise<{ messages: ServiceBusReceivedMessage[]; complete: boolean }> {
  const receiver = client.createReceiver(queue, {
    ...(deadLetter ? { subQueueType: 'deadLetter' as const } : {}),
    skipParsingBodyAsJson: true,
  });
  const messages: ServiceBusReceivedMessage[] = [];
  try {
    let from = Long.ZERO;
    while (messages.length < cap) {
      const page = await receiver.peekMessages(Math.min(PEEK_PAGE, cap - messages.length), {
        fromSequenceNumber: from,
      });
      if (page.length === 0) return { messages, complete: true };
      messages.push(...page);
      const last = page[page.length - 1]?.sequenceNumber;
      if (!last) return { messages, complete: true };
      from = Long.fromValue(last).add(1);
    }
    return { messages, complete: false };
  } finally {
    await receiver.close().catch(() => undefined);
  }
}

/**
 * Counts by peeking (Service Bus has no AMQP count operation; the administration API's runtime
 * properties need HTTPS and Manage rights). `waiting` excludes messages locked right now when the
 * broker reports their lock; a field is left out past 5,000 messages.
 */
export async function countMessages(client: ServiceBusClient, queue: string): Promise<DriverStats> {
  const [main, dead] = await Promise.all([
    peekAll(client, queue, STATS_PEEK_CAP, false),
    peekAll(client, queue, STATS_PEEK_CAP, true),
  ]);
  const now = Date.now();
  let waiting = 0;
  let delayed = 0;
  let active = 0;
  for (const message of main.messages) {
    if (message.state === 'scheduled') delayed++;
    else if (message.state === 'active') {
      if (message.lockedUntilUtc && message.lockedUntilUtc.getTime() > now) active++;
      else waiting++;
    }
  }
  return {
    ...(main.complete ? { waiting, delayed, active } : {}),
    ...(dead.complete ? { deadLettered: dead.messages.length } : {}),
  };
}

export async function listDeadLetters(
  client: ServiceBusClient,
  queue: string,
  limit: number,
): Promise<DeadLetteredMessage[]> {
  const { messages } = await peekAll(client, queue, Math.max(0, limit), true);
  return messages.map(toDeadLettered);
}

/**
 * Receive the dead letters under lock; re-send the selected ones as new messages (fresh delivery
 * count, headers overwritten) and complete them; leave the others locked until the end, then
 * abandon them so they stay in the subqueue.
 */
export async function redriveDeadLetters(
  client: ServiceBusClient,
  sender: ServiceBusSender,
  queue: string,
  options: RedriveOptions,
): Promise<number> {
  const wanted = options.ids ? new Set(options.ids) : undefined;
  // Each dead letter is moved once: a redriven job that fails again while the subqueue is being
  // drained is dead-lettered anew and must stay there (it was moved over and over before).
  const startedAt = Date.now();
  const resent = new Set<string>();
  let moved = 0;
  await drainDeadLetters(client, queue, async (receiver, message) => {
    if (deadLetteredSince(message, startedAt) || resent.has(String(message.messageId))) return false;
    const received = toReceivedMessage(message);
    if (wanted && !wanted.has(received.id)) return false;
    const copy = toServiceBusMessage({
      id: received.id,
      name: received.name ?? received.headers['qk-name'] ?? 'default',
      body: received.body,
      headers: { ...received.headers, ...options.headers },
    });
    resent.add(String(copy.messageId));
    await sender.sendMessages(copy);
    await receiver.completeMessage(message);
    moved++;
    return true;
  });
  return moved;
}

export async function purgeDeadLetters(client: ServiceBusClient, queue: string): Promise<number> {
  let purged = 0;
  await drainDeadLetters(client, queue, async (receiver, message) => {
    await receiver.completeMessage(message);
    purged++;
    return true;
  });
  return purged;
}

/** Visit every dead letter once; `visit` settles it and returns true, or returns false to keep it. */
async function drainDeadLetters(
  client: ServiceBusClient,
  queue: string,
  visit: (receiver: ServiceBusReceiver, message: ServiceBusReceivedMessage) => Promise<boolean>,
): Promise<void> {
  const receiver = client.createReceiver(queue, {
    subQueueType: 'deadLetter',
    receiveMode: 'peekLock',
    maxAutoLockRenewalDurationInMs: 0,
    skipParsingBodyAsJson: true,
  });
  const kept: ServiceBusReceivedMessage[] = [];
  try {
    // A peek answers at once; an empty subqueue (most priority bands) then costs no receive wait.
    // From 0 explicitly: without it the SDK continues after the last message any peek of this entity saw.
    if ((await receiver.peekMessages(1, { fromSequenceNumber: Long.ZERO })).length === 0) return;
    for (;;) {
      const batch = await receiver.receiveMessages(PEEK_PAGE, { maxWaitTimeInMs: DLQ_DRAIN_WAIT_MS });
      if (batch.length === 0) break;
      for (const message of batch) if (!(await visit(receiver, message))) kept.push(message);
    }
  } finally {
    for (const message of kept) await receiver.abandonMessage(message).catch(() => undefined);
    await receiver.close().catch(() => undefined);
  }
}

/** A listed dead letter: reason and description from Service Bus, attempts from the driver's property. */
function toDeadLettered(message: ServiceBusReceivedMessage): DeadLetteredMessage {
  const props = message.applicationProperties ?? {};
  const reason = props[DEAD_LETTER_REASON] ?? message.deadLetterReason;
  const description = props[DEAD_LETTER_DESCRIPTION] ?? message.deadLetterErrorDescription;
  const attempts = Number(props[ATTEMPTS_PROPERTY]);
  const at = Number(props[DEAD_LETTERED_AT_PROPERTY]);
  return {
    ...toReceivedMessage(message),
    reason: typeof reason === 'string' && reason !== '' ? reason : 'unknown',
    ...(typeof description === 'string' && description !== '' ? { error: description } : {}),
    ...(Number.isFinite(attempts) && props[ATTEMPTS_PROPERTY] !== undefined ? { attempts } : {}),
    ...(Number.isFinite(at) && at > 0 ? { deadLetteredAt: new Date(at) } : {}),
  };
}

/** Whether the driver dead-lettered `message` at or after `time` (broker dead letters carry no time). */
function deadLetteredSince(message: ServiceBusReceivedMessage, time: number): boolean {
  const at = Number(message.applicationProperties?.[DEAD_LETTERED_AT_PROPERTY]);
  return Number.isFinite(at) && at >= time;
}
