import { describeDriverConformance } from '@queuekit/conformance';
import { makeDriver } from './helpers.js';

describeDriverConformance('pubsub', () => makeDriver(), {
  lockMs: 2000,
  queuePrefix: 'qkd',
  withoutQueueCreation: () => makeDriver({ createIfMissing: false }),
});
