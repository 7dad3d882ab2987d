import { describeConformance } from '@queuekit/conformance';
import { inject } from 'vitest';
import { createRabbitMqDriver } from '../src/index.js';
import { crashWorker, viaProxy } from './helpers.js';

const url = inject('amqpUrl');

// Quorum queues: no native priority (the core emulates it with band queues), exact x-delivery-count.
describeConformance('rabbitmq (quorum queues)', () => createRabbitMqDriver({ url, queueType: 'quorum' }), {
  lockMs: 1000,
  queuePrefix: 'qkq',
  crashWorker: crashWorker(url, 'quorum'),
  viaProxy: viaProxy(url, 'quorum'),
});
