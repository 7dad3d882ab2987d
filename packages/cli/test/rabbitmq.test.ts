import { createDriver } from '@queuekit/adapter-rabbitmq';
import { describeBrokerFlow } from './broker-flow.js';

const url = process.env.QUEUEKIT_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

describeBrokerFlow({
  label: 'RabbitMQ',
  url,
  downUrl: 'amqp://guest:guest@127.0.0.1:1',
  driver: () => createDriver({ url }),
});
