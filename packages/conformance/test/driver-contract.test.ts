import { createMemoryDriver, MemoryBroker } from '@queuekit/core';
import { describeDriverConformance } from '../src/index.js';

// The memory driver's factories of test/memory.test.ts: full capabilities, then cloud-like ones.
const broker = new MemoryBroker();
describeDriverConformance('memory', () => createMemoryDriver({ broker }), { lockMs: 500 });
const limited = new MemoryBroker();
const limitCapabilities = {
  priority: 'emulated',
  maxDelayMs: 1000,
  dedup: false,
  ordering: false,
  maxBatchSize: 1,
} as const;
describeDriverConformance(
  'memory (cloud-like capabilities)',
  () => createMemoryDriver({ broker: limited, limitCapabilities }),
  {
    lockMs: 500,
    queuePrefix: 'qdl',
  },
);
