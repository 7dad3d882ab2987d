import { describeConformance } from '@queuekit/conformance';
import { connectionString, deleteQueue, lockMs, makeDriver, target } from './helpers.js';

/** Crash workers: child processes on the built package, with the options of `makeDriver`. */
const crashWorker = (prefetch: boolean) => ({
  module: new URL('../dist/index.js', import.meta.url).href,
  exportName: 'ServiceBusDriver',
  options: {
    connectionString,
    duplicateDetection: true,
    prefetch,
    ...(target === 'external' ? { createQueues: true, queueDefaults: { lockDurationMs: lockMs } } : {}),
  },
});

describeConformance('servicebus', () => makeDriver(), {
  lockMs,
  queuePrefix: 'qkc-sb',
  crashWorker: crashWorker(false),
  // The driver deletes queues only through the administration API; the test server has a control API.
  cleanup: (name) => deleteQueue(name),
});

// The same suite with the prefetching receiver (option `prefetch`).
describeConformance('servicebus (prefetch)', () => makeDriver({ prefetch: true }), {
  lockMs,
  queuePrefix: 'qkc-sbp',
  crashWorker: crashWorker(true),
  cleanup: (name) => deleteQueue(name),
});
