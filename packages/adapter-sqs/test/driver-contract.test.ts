import { describeDriverConformance } from '@queuekit/conformance';
import { makeDriver } from './helpers.js';

describeDriverConformance('sqs', () => makeDriver(), {
  lockMs: 2000,
  queuePrefix: 'qkd-sqs',
  withoutQueueCreation: () => makeDriver({ createIfMissing: false }),
});
