import * as sqs from '@aws-sdk/client-sqs';
import { type Delivery, linkSignals, type ReceivedMessage, type ReceiveOptions } from '@queuekit/core';
import { type Batcher, createDelivery, type DeadLetterQueueOps } from '@queuekit/core/driver-kit';
import type { QueueAdmin, QueueInfo } from './admin.js';
import { classifyError, isQueueMissing } from './errors.js';
import { fitDeadLetter, fromWire } from './wire.js';

/** The system attributes read (`fromWire`): the group and first receive only matter on FIFO queues. */
const SYSTEM: sqs.MessageSystemAttributeName[] = ['ApproximateReceiveCount', 'SentTimestamp'];
const FIFO_SYSTEM: sqs.MessageSystemAttributeName[] = [
  ...SYSTEM,
  'ApproximateFirstReceiveTimestamp',
  'MessageGroupId',
];

/** `ms` as whole seconds, rounded up (never early), within `min`..`max`. */
const seconds = (ms: number, min: number, max = 43_200) => Math.min(max, Math.max(min, Math.ceil(ms / 1000)));

/** The driver's parts the receive path uses (`deletes`: receipt handles by queue URL; `closing`: on close). */
export interface ReceiverContext {
  readonly admin: QueueAdmin;
  readonly deletes: Batcher<string>;
  readonly closing: AbortSignal;
  readonly deadLetters: Pick<DeadLetterQueueOps, 'send'>;
}

/**
 * Up to `options.max` deliveries. The first call long-polls for up to 10; once a full batch came, more are
 * probably waiting: the rest is asked for at once in parallel calls (one round trip, not one per 10). A FIFO
 * queue keeps one call at a time so that its batches arrive in order.
 */
export async function receive(ctx: ReceiverContext, info: QueueInfo, options: ReceiveOptions) {
  const { signal, dispose } = linkSignals(options.signal, ctx.closing);
  // Receives from a dead-letter queue list, redrive or purge: on AWS a long poll sees every server.
  const scanMs = info.deadLetters ? ctx.admin.options.deadLetterScanWaitSeconds * 1000 : 0;
  const deadline = performance.now() + Math.max(options.waitMs, scanMs);
  const lock = seconds(options.lockMs, 1);
  const base = { QueueUrl: info.url, VisibilityTimeout: lock, MessageAttributeNames: ['All'] };
  const once = async (max: number, wait: number): Promise<sqs.Message[]> => {
    const input = {
      ...base,
      MaxNumberOfMessages: max,
      WaitTimeSeconds: wait,
      MessageSystemAttributeNames: info.fifo ? FIFO_SYSTEM : SYSTEM,
    };
    try {
      const out = await ctx.admin.client.send(new sqs.ReceiveMessageCommand(input), { abortSignal: signal });
      return out.Messages ?? [];
    } catch (error) {
      if (signal.aborted) return [];
      if (isQueueMissing(error)) ctx.admin.forget(info.name);
      throw error;
    }
  };
  const out: Delivery[] = [];
  try {
    while (out.length < options.max && !signal.aborted) {
      const left = options.max - out.length;
      const wanted = Array.from({ length: out.length > 0 && !info.fifo ? Math.ceil(left / 10) : 1 }, (_, i) =>
        Math.min(10, left - i * 10),
      );
      const wait = out.length > 0 ? 0 : seconds(deadline - performance.now(), 0, 20);
      const sentAt = performance.now();
      const results = await Promise.allSettled(wanted.map((max) => once(max, wait)));
      // The lock counts from the call, not from its answer (as epoch ms: the kit keeps it on a monotonic clock).
      const until = Date.now() + (sentAt + lock * 1000 - performance.now());
      for (const raw of results.flatMap((result) => (result.status === 'fulfilled' ? result.value : []))) {
        const read = fromWire(raw, info.fifo, info.deadLetters);
        // FIFO queues have no per-message delay: a message received before its due time is hidden until
        // then (if that fails, the receive's own visibility timeout brings it back).
        if (read.due !== undefined && read.due > Date.now())
          await visible(ctx, info, raw, seconds(read.due - Date.now(), 1)).catch(() => undefined);
        else out.push(delivery(ctx, info, raw, read.message, until));
      }
      // Deliveries in hand are returned (their messages are locked to us); a lasting error comes back next time.
      const failure = results.find((result) => result.status === 'rejected');
      if (failure && out.length === 0) throw failure.reason;
      if (failure || signal.aborted) break;
      // Every call came back full: maybe more are waiting, ask again without waiting.
      const full = results.every((r, i) => r.status === 'fulfilled' && r.value.length === wanted[i]);
      if (!full && (out.length > 0 || performance.now() >= deadline)) break;
    }
    return out;
  } finally {
    dispose();
  }
}

function visible(ctx: ReceiverContext, info: QueueInfo, raw: sqs.Message, inSeconds: number) {
  const input = { QueueUrl: info.url, ReceiptHandle: raw.ReceiptHandle, VisibilityTimeout: inSeconds };
  return ctx.admin.client.send(new sqs.ChangeMessageVisibilityCommand(input));
}

/**
 * A delivery through the kit (settle once, local lock expiry on the monotonic clock, lockedUntil across renewals);
 * `until`: when the lock taken by the receive runs out, epoch ms.
 */
function delivery(
  ctx: ReceiverContext,
  info: QueueInfo,
  raw: sqs.Message,
  message: ReceivedMessage,
  until: number,
) {
  const ack = () => ctx.deletes.add(info.url, raw.ReceiptHandle ?? '');
  return createDelivery({
    message,
    lockedUntil: until,
    provider: 'sqs',
    classify: classifyError,
    isClosed: () => ctx.closing.aborted,
    operations: {
      ack,
      release: async (delayMs) => void (await visible(ctx, info, raw, seconds(delayMs, 0))),
      extendLock: async (ms) => {
        const from = Date.now();
        await visible(ctx, info, raw, seconds(ms, 1));
        return from + seconds(ms, 1) * 1000;
      },
      deadLetter: async (dl) => {
        await ctx.deadLetters.send(info.name, message, fitDeadLetter(raw, dl, info.maxMessageBytes));
        await ack();
      },
    },
  });
}
