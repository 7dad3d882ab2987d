import { ServiceBusClient } from '@azure/service-bus';
import { ServiceBusDriver } from '@queuekit/adapter-servicebus';
import { startEmulator } from '@queuekit/servicebus-emulator';
import { queuekitSide } from '../lib/queuekit-side.mjs';

/** @azure/service-bus: `createMessageBatch` + `sendMessages` for bulk, `subscribe` with maxConcurrentCalls. */
async function native(connectionString, name) {
  const client = new ServiceBusClient(connectionString);
  const sender = client.createSender(name);
  let receiver;
  let subscription;
  const message = (data) => ({ body: Buffer.from(JSON.stringify(data)), contentType: 'application/json' });
  return {
    async sendBatch(items) {
      let batch = await sender.createMessageBatch();
      for (const data of items) {
        if (batch.tryAddMessage(message(data))) continue;
        await sender.sendMessages(batch);
        batch = await sender.createMessageBatch();
        if (!batch.tryAddMessage(message(data))) throw new Error('message larger than a batch');
      }
      if (batch.count > 0) await sender.sendMessages(batch);
    },
    sendOne: (data) => sender.sendMessages(message(data)),
    consume(concurrency, onStart, onDone) {
      receiver = client.createReceiver(name, {
        maxAutoLockRenewalDurationInMs: 0,
        skipParsingBodyAsJson: true,
      });
      subscription = receiver.subscribe(
        {
          async processMessage(m) {
            onStart(JSON.parse(Buffer.from(m.body).toString('utf8')));
            await receiver.completeMessage(m);
            onDone();
          },
          async processError(args) {
            console.error(`  native service bus error: ${args.error.message}`);
          },
        },
        { maxConcurrentCalls: concurrency, autoCompleteMessages: false },
      );
    },
    async close() {
      await subscription?.close();
      await client.close();
    },
  };
}

export default {
  id: 'servicebus',
  label: 'Service Bus (test server)',
  native:
    '@azure/service-bus: `createMessageBatch` filled to the limit and `sendMessages` for bulk, `sendMessages(message)` for one; `receiver.subscribe` in peek-lock with `maxConcurrentCalls` 50 (the SDK keeps that many credits out, its prefetch), `completeMessage` per message',
  nativeLabel: '@azure/service-bus',
  jobs: { full: 5_000, quick: 2_000 },
  async start() {
    const emulator = process.env.SERVICEBUS_CONNECTION_STRING ? undefined : await startEmulator();
    const connectionString = process.env.SERVICEBUS_CONNECTION_STRING ?? emulator.connectionString;
    return {
      native: (name) => native(connectionString, name),
      queuekit: (name) => queuekitSide(new ServiceBusDriver({ connectionString }), name),
      stop: async () => emulator?.stop(),
    };
  },
};
