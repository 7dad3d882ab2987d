import { PubSub } from '@google-cloud/pubsub';
import { PubSubDriver } from '@queuekit/adapter-pubsub';
import { startPubSubEmulator } from '../lib/pubsub-emulator.mjs';
import { queuekitSide } from '../lib/queuekit-side.mjs';

const PROJECT = 'queuekit-bench';

/** @google-cloud/pubsub: `publishMessage` with the client's default batching, streaming pull with flow control. */
async function native(name) {
  const pubsub = new PubSub({ projectId: PROJECT });
  const [topic] = await pubsub.createTopic(name);
  const [subscription] = await topic.createSubscription(`${name}.sub`, { ackDeadlineSeconds: 30 });
  const publish = (data) => topic.publishMessage({ data: Buffer.from(JSON.stringify(data)) });
  let consuming = false;
  return {
    sendBatch: (items) => Promise.all(items.map(publish)),
    sendOne: publish,
    consume(concurrency, onStart, onDone) {
      consuming = true;
      subscription.setOptions({
        flowControl: { maxMessages: concurrency, allowExcessMessages: false },
        batching: { maxMessages: concurrency, maxMilliseconds: 10 },
      });
      const handler = async (data) => onStart(data);
      subscription.on('error', (error) => console.error(`  native pubsub error: ${error.message}`));
      subscription.on('message', (message) => {
        handler(JSON.parse(message.data.toString('utf8'))).then(() => {
          message.ack();
          onDone();
        });
      });
    },
    async close() {
      if (consuming) await subscription.close();
      await subscription.delete();
      await topic.delete();
      await pubsub.close();
    },
  };
}

export default {
  id: 'pubsub',
  label: 'Pub/Sub (emulator)',
  native:
    '@google-cloud/pubsub: `topic.publishMessage` per job with the client library default batching (up to 100 messages / 10 ms), streaming pull with `flowControl.maxMessages` 50 and `message.ack()`, acks batched by the client (`batching: { maxMessages: 50, maxMilliseconds: 10 }`; with the default 100 ms the 50-message flow-control window waits for each ack flush and native drains at ~500 jobs/s)',
  nativeLabel: '@google-cloud/pubsub',
  jobs: { full: 5_000, quick: 2_000 },
  async start() {
    const { stop, pid } = await startPubSubEmulator();
    return {
      native,
      queuekit: (name) => queuekitSide(new PubSubDriver({ projectId: PROJECT }), name),
      brokerPid: () => pid,
      stop,
    };
  },
};
