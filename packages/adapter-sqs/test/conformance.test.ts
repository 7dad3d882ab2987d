import { describeConformance } from '@queuekit/conformance';
import { endpoint, makeDriver } from './helpers.js';

// SQS visibility timeouts are whole seconds: 2 s is the shortest lock that stays a lock under load.
describeConformance('sqs', () => makeDriver(), {
  lockMs: 2000,
  queuePrefix: 'qkc-sqs',
  // Crash workers are child processes on the built package (AWS_* come from the environment).
  crashWorker: {
    module: new URL('../dist/index.js', import.meta.url).href,
    exportName: 'SqsDriver',
    options: endpoint ? { endpoint } : {},
  },
});
