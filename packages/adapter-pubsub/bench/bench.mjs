// pnpm bench: 5,000 jobs through queuekit vs plain @google-cloud/pubsub (publisher batching,
// streaming pull), same emulator, one run. Prints both rates and the ratio.
import { PubSub } from '@google-cloud/pubsub';
import { createQueue } from '@queuekit/core';
import { PubSubDriver } from '../dist/index.js';
import { startEmulator } from './emulator.mjs';

const JOBS = Number(process.env.BENCH_JOBS ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 100);
const PROJECT = 'queuekit-bench';
const payload = (i) => ({ i, to: `user${i}@example.com`, subject: 'hello', body: 'x'.repeat(200) });

async function native(pubsub, run, JOBS) {
  const [topic] = await pubsub.createTopic(`native-${run}`);
  const [subscription] = await topic.createSubscription(`native-${run}.sub`, {
    ackDeadlineSeconds: 30,
    flowControl: { maxMessages: CONCURRENCY, allowExcessMessages: false },
  });
  subscription.setOptions({ flowControl: { maxMessages: CONCURRENCY, allowExcessMessages: false } });
  let received = 0;
  const done = new Promise((resolve, reject) => {
    subscription.on('error', reject);
    subscription.on('message', (message) => {
      JSON.parse(message.data.toString());
      message.ack();
      if (++received === JOBS) resolve();
    });
  });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: JOBS }, (_, i) =>
      topic.publishMessage({ data: Buffer.from(JSON.stringify(payload(i))) }),
    ),
  );
  const published = performance.now();
  await done;
  const finished = performance.now();
  await subscription.close();
  await subscription.delete();
  await topic.delete();
  return { publishMs: published - started, totalMs: finished - started };
}

async function queuekit(run, JOBS) {
  const driver = new PubSubDriver({ projectId: PROJECT });
  const queue = createQueue({ name: `qk-${run}`, driver, ownsDriver: true });
  queue.on('error', (error) => console.error('queuekit error:', error.message));
  await queue.stats(); // creates the topic and subscription outside the timing, as the native run does
  let received = 0;
  const done = new Promise((resolve) => {
    queue.process(
      async () => {
        if (++received === JOBS) resolve();
      },
      { concurrency: CONCURRENCY },
    );
  });
  const started = performance.now();
  await Promise.all(Array.from({ length: JOBS }, (_, i) => queue.send('email', payload(i))));
  const published = performance.now();
  await done;
  const finished = performance.now();
  await queue.close({ timeout: 5000 });
  const admin = new PubSubDriver({ projectId: PROJECT });
  await admin.deleteQueue(`qk-${run}`);
  await admin.close();
  return { publishMs: published - started, totalMs: finished - started };
}

const stop = await startEmulator();
try {
  const run = Date.now().toString(36);
  const pubsub = new PubSub({ projectId: PROJECT });
  // Warm up both paths (JIT, emulator) with a small run each, then measure.
  await native(pubsub, `warm-${run}`, 500);
  await queuekit(`warm-${run}`, 500);
  const saved = JOBS;
  const nativeResult = await native(pubsub, run, JOBS);
  const ours = await queuekit(run, JOBS);
  await pubsub.close();
  const rate = (ms) => (saved / (ms / 1000)).toFixed(0);
  console.log(`Pub/Sub emulator, ${saved} jobs, concurrency ${CONCURRENCY}, Node ${process.version}`);
  console.log(
    `native @google-cloud/pubsub: publish ${rate(nativeResult.publishMs)} msg/s, end-to-end ${rate(nativeResult.totalMs)} jobs/s (${nativeResult.totalMs.toFixed(0)} ms)`,
  );
  console.log(
    `queuekit:                    publish ${rate(ours.publishMs)} msg/s, end-to-end ${rate(ours.totalMs)} jobs/s (${ours.totalMs.toFixed(0)} ms)`,
  );
  console.log(`ratio queuekit/native (end-to-end): ${(nativeResult.totalMs / ours.totalMs).toFixed(2)}x`);
} finally {
  await stop();
}
