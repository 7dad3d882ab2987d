import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';

/** How long a scan hides the messages it has seen, in seconds (they are made visible again at the end). */
export const SCAN_HOLD_SECONDS = 30;

/** System attributes every receive asks for. */
export const SYSTEM_ATTRIBUTES = [
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SentTimestamp',
  'MessageGroupId',
] as const;

/**
 * Walk a queue without consuming it: receive batches under a hold (so no message is seen twice)
 * and hand each batch to `visit`, which returns the messages it consumed (deleted or moved). The
 * rest are made visible again when the walk ends. Stops after `limit` messages or when a receive
 * comes back empty.
 */
export async function scanQueue(
  client: SQSClient,
  queueUrl: string,
  limit: number,
  waitSeconds: number,
  visit: (batch: Message[]) => Promise<Set<Message>>,
): Promise<void> {
  const held: Message[] = [];
  let seen = 0;
  try {
    while (seen < limit) {
      const out = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, limit - seen),
          VisibilityTimeout: SCAN_HOLD_SECONDS,
          WaitTimeSeconds: waitSeconds,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: [...SYSTEM_ATTRIBUTES],
        }),
      );
      const batch = out.Messages ?? [];
      if (batch.length === 0) break;
      seen += batch.length;
      const consumed = await visit(batch);
      for (const message of batch) if (!consumed.has(message)) held.push(message);
    }
  } finally {
    await releaseAll(client, queueUrl, held);
  }
}

async function releaseAll(client: SQSClient, queueUrl: string, messages: Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    const chunk = messages.slice(i, i + 10);
    await client
      .send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((m, j) => ({
            Id: String(j),
            ReceiptHandle: m.ReceiptHandle,
            VisibilityTimeout: 0,
          })),
        }),
      )
      .catch(() => undefined); // the hold expires by itself anyway
  }
}

/** Delete messages received from `queueUrl`, 10 per call; resolves with the count deleted. */
export async function deleteAll(
  client: SQSClient,
  queueUrl: string,
  messages: readonly Message[],
): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < messages.length; i += 10) {
    const chunk = messages.slice(i, i + 10);
    const out = await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
    deleted += chunk.length - (out.Failed?.length ?? 0);
  }
  return deleted;
}
