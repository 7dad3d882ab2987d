import { describeFaultConformance } from '@queuekit/conformance';
import { describe, inject, it } from 'vitest';
import { createRabbitMqDriver } from '../src/index.js';
import { viaProxy } from './helpers.js';

const url = inject('amqpUrl');

for (const queueType of ['classic', 'quorum'] as const) {
  const proxied = viaProxy(url, queueType);
  (process.env.QUEUEKIT_FAULTS === '1' ? describeFaultConformance : skippedFaults)(
    `rabbitmq (${queueType} queues)`,
    () => createRabbitMqDriver({ url, queueType }),
    {
      lockMs: 1000,
      queuePrefix: queueType === 'classic' ? 'qkfc' : 'qkfq',
      viaProxy: proxied,
      driverVia: (address) => createRabbitMqDriver({ url: proxied.url(address), queueType }),
    },
  );
}

/** The fault suite is not part of the default run until it passes on every adapter (QUEUEKIT_FAULTS=1 runs it). */
function skippedFaults(name: string, ..._rest: unknown[]): void {
  describe.skip(`faults: ${name} (set QUEUEKIT_FAULTS=1)`, () => {
    it('runs with QUEUEKIT_FAULTS=1', () => undefined);
  });
}
