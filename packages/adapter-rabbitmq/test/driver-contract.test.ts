import { describeDriverConformance } from '@queuekit/conformance';
import { inject } from 'vitest';
import { createRabbitMqDriver } from '../src/index.js';

const url = inject('amqpUrl');
describeDriverConformance('rabbitmq (classic queues)', () => createRabbitMqDriver({ url }), { lockMs: 1000 });
