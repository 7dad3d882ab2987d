// pnpm bench: 5,000 jobs through queuekit (SQS driver) vs plain @aws-sdk/client-sqs, on the same SQS
// (fauxqs in-process, or SQS_ENDPOINT for LocalStack). Prints both rates and the ratio.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { createQueue } from '@queuekit/core';
import { SqsDriver } from '../dist/index.js';

const JOBS = Number(process.env.BENCH_JOBS ?? 5000);
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
const payload = (i) => ({ i, email: `user${i}@example.com`, note: 'x'.repeat(200) });

async function native() {
  const client = new SQSClient({ endpoint });
  const { QueueUrl } = await client.send(
    new CreateQueueCommand({ QueueName: `bench-native-${randomUUID().slice(0, 8)}` }),
  );
  const t0 = performance.now();
  for (let i = 0; i < JOBS; i += 10) {
    const Entries = [];
    for (let j = i; j < Math.min(JOBS, i + 10); j++)
      Entries.push({ Id: String(j - i), MessageBody: JSON.stringify(payload(j)) });
    await client.send(new SendMessageBatchCommand({ QueueUrl, Entries }));
  }
  const t1 = performance.now();
  let done = 0;
  while (done < JOBS) {
    const out = await client.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 30,
      }),
    );
    const messages = out.Messages ?? [];
    for (const m of messages) JSON.parse(m.Body ?? '');
    if (messages.length > 0)
      await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl,
          Entries: messages.map((m, k) => ({ Id: String(k), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    done += messages.length;
  }
  const t2 = performance.now();
  await client.send(new DeleteQueueCommand({ QueueUrl }));
  client.destroy();
  return { send: t1 - t0, consume: t2 - t1 };
}

async function queuekit() {
  const name = `bench-qk-${randomUUID().slice(0, 8)}`;
  const driver = new SqsDriver({ endpoint });
  const queue = createQueue({ name, driver });
  await driver.stats(name); // create the queue (and its DLQ) outside the timing, like the native run
  const t0 = performance.now();
  await queue.sendBatch(Array.from({ length: JOBS }, (_, i) => ({ name: 'bench', data: payload(i) })));
  const t1 = performance.now();
  let done = 0;
  let finished;
  const all = new Promise((resolve) => {
    finished = resolve;
  });
  queue.on('completed', () => {
    if (++done === JOBS) finished();
  });
  queue.process(async (job) => job.data.i, {
    concurrency: Number(process.env.BENCH_CONCURRENCY ?? 10),
    pollInterval: 1000,
  });
  await all;
  const t2 = performance.now();
  await queue.close();
  await driver.deleteQueue(name);
  await driver.close();
  return { send: t1 - t0, consume: t2 - t1 };
}

const rate = (ms) => Math.round((JOBS / ms) * 1000);
const n = await native();
const q = await queuekit();
const rows = [
  ['send (batches of 10)', rate(n.send), rate(q.send)],
  ['receive + handle + delete', rate(n.consume), rate(q.consume)],
  ['end to end', rate(n.send + n.consume), rate(q.send + q.consume)],
];
console.log(
  `${JOBS} jobs on ${server ? 'fauxqs (in-process)' : endpoint}, ${os.cpus().length} cores, Node ${process.version}`,
);
for (const [what, nat, ours] of rows)
  console.log(
    `${what.padEnd(28)} native ${String(nat).padStart(6)} jobs/s   queuekit ${String(ours).padStart(6)} jobs/s   ratio ${(ours / nat).toFixed(2)}x`,
  );
await server?.stop();
