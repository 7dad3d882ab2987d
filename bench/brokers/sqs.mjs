import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { SqsDriver } from '@queuekit/adapter-sqs';
import { queuekitSide } from '../lib/queuekit-side.mjs';

/**
 * @aws-sdk/client-sqs as AWS recommends for throughput: SendMessageBatch of 10 (the batches of a chunk in
 * parallel), long polling with 10 messages a receive, one poller per 10 of concurrency, DeleteMessageBatch.
 */
async function native(endpoint, name) {
  const client = new SQSClient({ endpoint });
  const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: name }));
  const stopped = new AbortController();
  const pollers = [];
  return {
    async sendBatch(items) {
      const calls = [];
      for (let i = 0; i < items.length; i += 10) {
        const Entries = items
          .slice(i, i + 10)
          .map((data, k) => ({ Id: String(k), MessageBody: JSON.stringify(data) }));
        calls.push(client.send(new SendMessageBatchCommand({ QueueUrl, Entries })));
      }
      await Promise.all(calls);
    },
    sendOne: (data) => client.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify(data) })),
    consume(concurrency, onStart, onDone) {
      const handler = async (data) => onStart(data);
      for (let p = 0; p < Math.ceil(concurrency / 10); p++) {
        pollers.push(
          (async () => {
            while (!stopped.signal.aborted) {
              const out = await client
                .send(
                  new ReceiveMessageCommand({
                    QueueUrl,
                    MaxNumberOfMessages: 10,
                    WaitTimeSeconds: 20,
                    VisibilityTimeout: 30,
                  }),
                  { abortSignal: stopped.signal },
                )
                .catch(() => ({ Messages: [] }));
              const messages = out.Messages ?? [];
              if (messages.length === 0) continue;
              await Promise.all(messages.map((m) => handler(JSON.parse(m.Body ?? ''))));
              await client.send(
                new DeleteMessageBatchCommand({
                  QueueUrl,
                  Entries: messages.map((m, k) => ({ Id: String(k), ReceiptHandle: m.ReceiptHandle })),
                }),
              );
              for (const _ of messages) onDone();
            }
          })(),
        );
      }
    },
    async close() {
      stopped.abort();
      await Promise.all(pollers);
      await client.send(new DeleteQueueCommand({ QueueUrl }));
      client.destroy();
    },
  };
}

export default {
  id: 'sqs',
  label: 'SQS (fauxqs)',
  native:
    '@aws-sdk/client-sqs: `SendMessageBatch` of 10 (the 100 batches of a 1,000-job chunk in parallel, as the driver sends them), `SendMessage` for single jobs; long polling (`WaitTimeSeconds` 20, 10 messages a receive) with one poller per 10 of concurrency, then one `DeleteMessageBatch` per receive',
  nativeLabel: '@aws-sdk/client-sqs',
  jobs: { full: 5_000, quick: 2_000 },
  async start() {
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
    process.env.AWS_REGION ??= 'us-east-1';
    let server;
    let endpoint = process.env.SQS_ENDPOINT;
    if (!endpoint) {
      const { startFauxqs } = await import('fauxqs');
      server = await startFauxqs({ port: 0, logger: false, host: '127.0.0.1' });
      endpoint = `http://127.0.0.1:${server.port}`;
    }
    return {
      native: (name) => native(endpoint, name),
      queuekit: (name) => queuekitSide(new SqsDriver({ endpoint }), name),
      stop: async () => server?.stop(),
    };
  },
};
