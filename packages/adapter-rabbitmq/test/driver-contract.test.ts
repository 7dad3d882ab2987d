import { describeDriverConformance } from '@queuekit/conformance';
import { inject } from 'vitest';
import { createRabbitMqDriver } from '../src/index.js';

// The driver factories of conformance.test.ts and conformance-quorum.test.ts.
const url = inject('amqpUrl');
describeDriverConformance('rabbitmq (classic queues)', () => createRabbitMqDriver({ url }), { lockMs: 1000 });
describeDriverConformance(
  'rabbitmq (quorum queues)',
  () => createRabbitMqDriver({ url, queueType: 'quorum' }),
  {
    lockMs: 1000,
    queuePrefix: 'qkdq',
  },
);
