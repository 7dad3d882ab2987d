import { describeConformance } from '@queuekit/conformance';
import { deleteQueue, lockMs, makeDriver } from './helpers.js';

describeConformance('servicebus', () => makeDriver(), {
  lockMs,
  queuePrefix: 'qkc-sb',
  // The driver deletes queues only through the administration API; the test server has a control API.
  cleanup: (name) => deleteQueue(name),
});

// The same suite with the prefetching receiver (option `prefetch`).
describeConformance('servicebus (prefetch)', () => makeDriver({ prefetch: true }), {
  lockMs,
  queuePrefix: 'qkc-sbp',
  cleanup: (name) => deleteQueue(name),
});
