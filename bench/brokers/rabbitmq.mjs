import { once } from 'node:events';
import { createRabbitMqDriver } from '@queuekit/adapter-rabbitmq';
import amqp from 'amqplib';
import { pidOf } from '../lib/cpu.mjs';
import { queuekitSide } from '../lib/queuekit-side.mjs';

const url = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';

/** amqplib as its docs recommend for throughput: a confirm channel for publishing, prefetch on the consumer. */
async function native(name) {
  const connection = await amqp.connect(url);
  const publisher = await connection.createConfirmChannel();
  // The same queue arguments as the driver's classic queue (durable, priorities 0-9), persistent messages.
  await publisher.assertQueue(name, { durable: true, arguments: { 'x-max-priority': 10 } });
  const options = { persistent: true, contentType: 'application/json' };
  let consumer;
  return {
    async sendBatch(items) {
      for (const data of items) {
        if (!publisher.sendToQueue(name, Buffer.from(JSON.stringify(data)), options))
          await once(publisher, 'drain');
      }
      await publisher.waitForConfirms();
    },
    sendOne: (data) =>
      new Promise((resolve, reject) => {
        publisher.sendToQueue(name, Buffer.from(JSON.stringify(data)), options, (error) =>
          error ? reject(error) : resolve(),
        );
      }),
    async consume(concurrency, onStart, onDone) {
      consumer = await connection.createChannel();
      await consumer.prefetch(concurrency);
      const handler = async (data) => onStart(data);
      await consumer.consume(name, (message) => {
        if (!message) return;
        handler(JSON.parse(message.content.toString('utf8'))).then(() => {
          consumer.ack(message);
          onDone();
        });
      });
    },
    async close() {
      await consumer?.close();
      await publisher.deleteQueue(name);
      await connection.close();
    },
  };
}

export default {
  id: 'rabbitmq',
  label: 'RabbitMQ',
  native:
    'amqplib: one confirm channel publishing persistent messages (bulk: publish the chunk, then `waitForConfirms`), a consumer channel with `prefetch(concurrency)` and manual acks, same queue arguments as the driver (durable classic queue, `x-max-priority` 10)',
  nativeLabel: 'amqplib',
  jobs: { full: 20_000, quick: 5_000 },
  async start() {
    return {
      native,
      queuekit: async (name) => queuekitSide(await createRabbitMqDriver({ url }), name),
      brokerPid: () => pidOf('beam.smp'),
      stop: async () => undefined,
    };
  },
};
