import { createMemoryDriver, MemoryBroker } from '@queuekit/core';
import { describeConformance } from '../src/index.js';

// One broker shared by every driver of a suite: several drivers are several connections.
const broker = new MemoryBroker();
describeConformance('memory', () => createMemoryDriver({ broker }), { lockMs: 500 });

// The same broker declaring what a cloud broker lacks, so the core's emulations run: priority
// bands, delay hops past a 1 s native maximum, single-message sends, and typed errors for
// dedup and ordering keys.
const limited = new MemoryBroker();
describeConformance(
  'memory (cloud-like capabilities)',
  () =>
    createMemoryDriver({
      broker: limited,
      limitCapabilities: {
        priority: 'emulated',
        maxDelayMs: 1000,
        dedup: false,
        ordering: false,
        maxBatchSize: 1,
      },
    }),
  { lockMs: 500, queuePrefix: 'qkl' },
);
