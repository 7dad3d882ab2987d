import { describeConformance } from '@queuekit/conformance';
import { inject } from 'vitest';
import { createRabbitMqDriver } from '../src/index.js';
import { crashWorker, viaProxy } from './helpers.js';

const url = inject('amqpUrl');

describeConformance('rabbitmq (classic queues)', () => createRabbitMqDriver({ url }), {
  lockMs: 1000,
  crashWorker: crashWorker(url),
  viaProxy: viaProxy(url),
});
