import { describeFaultConformance } from '@queuekit/conformance';
import { inject } from 'vitest';
import { createRabbitMqDriver } from '../src/index.js';
import { viaProxy } from './helpers.js';

const url = inject('amqpUrl');

for (const queueType of ['classic', 'quorum'] as const) {
  const proxied = viaProxy(url, queueType);
  describeFaultConformance(`rabbitmq (${queueType} queues)`, () => createRabbitMqDriver({ url, queueType }), {
    lockMs: 1000,
    queuePrefix: queueType === 'classic' ? 'qkfc' : 'qkfq',
    viaProxy: proxied,
    driverVia: (address) => createRabbitMqDriver({ url: proxied.url(address), queueType }),
  });
}
