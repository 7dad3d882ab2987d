import { createMemoryDriver, MemoryBroker } from '@queuekit/core';
import { expect, it } from 'vitest';
import { describeDriverConformance } from '../src/index.js';
import { CLOUD_LIKE_CAPABILITIES } from './cloud-like.js';

// The memory driver's factories of test/memory.test.ts: full capabilities, then cloud-like ones.
const broker = new MemoryBroker();
describeDriverConformance('memory', () => createMemoryDriver({ broker }), {
  lockMs: 500,
  // A memory-only case through the hook: drivers are connections to their broker, never to another one.
  additionalTests(h) {
    it('a message reaches drivers of its own broker only', async () => {
      const queue = h.queueName();
      const message = h.message();
      await (await h.driver()).send(queue, [message]);
      const elsewhere = createMemoryDriver({ broker: new MemoryBroker() });
      try {
        expect(await h.deliveredWithin(elsewhere, queue, 200)).toEqual([]);
      } finally {
        await elsewhere.close();
      }
      await (await h.receiveOne(await h.driver(), queue, message.id)).ack();
    });
  },
});
const limited = new MemoryBroker();
describeDriverConformance(
  'memory (cloud-like capabilities)',
  () => createMemoryDriver({ broker: limited, limitCapabilities: CLOUD_LIKE_CAPABILITIES }),
  { lockMs: 500, queuePrefix: 'qdl' },
);

// Dead letters in an ordinary queue (`${queue}-dlq`) through the kit's deadLetterQueueOps: the v2 hook's case runs.
const withDeadLetterQueue = new MemoryBroker();
describeDriverConformance(
  'memory (dead-letter queue)',
  () => createMemoryDriver({ broker: withDeadLetterQueue, deadLetterQueue: true }),
  { lockMs: 500, queuePrefix: 'qdq' },
);
