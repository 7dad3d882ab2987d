import { describeConformance } from '@queuekit/conformance';
import { endpoint, makeDriver } from './helpers.js';

// The same suite on FIFO queues: every queue name gets `.fifo`, and the driver declares dedup and ordering.
describeConformance('sqs (fifo)', () => makeDriver({ fifo: true }), {
  lockMs: 2000,
  queuePrefix: 'qkc-fifo',
  crashWorker: {
    module: new URL('../dist/index.js', import.meta.url).href,
    exportName: 'SqsDriver',
    options: { ...(endpoint ? { endpoint } : {}), fifo: true },
  },
});
