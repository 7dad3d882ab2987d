import { describeDriverConformance } from '@queuekit/conformance';
import { deleteQueue, lockMs, makeDriver } from './helpers.js';

// The driver factories of conformance.test.ts. The test server creates queues on first use, so there is
// no queue creation to turn off: the missing-queue case is gated out.
describeDriverConformance('servicebus', () => makeDriver(), {
  lockMs,
  queuePrefix: 'qkd-sb',
  cleanup: (name) => deleteQueue(name),
});
describeDriverConformance('servicebus (prefetch)', () => makeDriver({ prefetch: true }), {
  lockMs,
  queuePrefix: 'qkd-sbp',
  cleanup: (name) => deleteQueue(name),
});
