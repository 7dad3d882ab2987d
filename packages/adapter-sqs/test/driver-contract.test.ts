import { describeDriverConformance } from '@queuekit/conformance';
import { makeDriver } from './helpers.js';

// The driver factories of conformance.test.ts and conformance-fifo.test.ts.
describeDriverConformance('sqs', () => makeDriver(), {
  lockMs: 2000,
  queuePrefix: 'qkd-sqs',
  withoutQueueCreation: () => makeDriver({ createIfMissing: false }),
});
describeDriverConformance('sqs (fifo)', () => makeDriver({ fifo: true }), {
  lockMs: 2000,
  queuePrefix: 'qkd-fifo',
  withoutQueueCreation: () => makeDriver({ fifo: true, createIfMissing: false }),
});
