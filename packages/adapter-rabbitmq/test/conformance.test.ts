import { describeConformance } from '@queuekit/conformance';
import { inject } from 'vitest';
import { createRabbitMqDriver } from '../src/index.js';

const url = inject('amqpUrl');

describeConformance('rabbitmq (classic queues)', () => createRabbitMqDriver({ url }), { lockMs: 1000 });
