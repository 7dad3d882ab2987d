import { describeFaultConformance } from '@queuekit/conformance';
import { createQueue, settlesWithin } from '@queuekit/core';
import { describe, expect, inject, it } from 'vitest';
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

describe('a queue made from a URL of an unreachable broker', () => {
  // Seen: close() took ~15 s after a stats() the caller gave up on (the URL factory connected first).
  it('close() returns within its timeout after a call the caller gave up on', async () => {
    const queue = createQueue({ name: 'qkf-unreachable', url: 'amqp://guest:guest@127.0.0.1:1/' });
    const stats = queue.stats().catch((error: unknown) => error);
    expect(await settlesWithin(stats, 300)).toBe(false);
    const closing = Date.now();
    await queue.close({ timeout: 1000 });
    expect(Date.now() - closing).toBeLessThan(1000 + 2000);
    // The abandoned call ends typed, not hanging.
    expect(await stats).toMatchObject({
      code: expect.stringMatching(/^ERR_(BROKER_UNAVAILABLE|QUEUE_CLOSED)$/),
    });
  });
});
