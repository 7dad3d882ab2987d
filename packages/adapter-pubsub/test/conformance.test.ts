import { describeConformance } from '@queuekit/conformance';
import { makeDriver, pubsubEnv } from './helpers.js';

// 2 s is the shortest lock used here: the driver sets it per delivery with ModifyAckDeadline
// (whole seconds); the subscription's own ack deadline (10-600 s) only covers the pull itself.
describeConformance('pubsub', () => makeDriver(), {
  lockMs: 2000,
  queuePrefix: 'qkc',
  // Crash workers are child processes on the built package (PUBSUB_EMULATOR_HOST from the environment).
  crashWorker: {
    module: new URL('../dist/index.js', import.meta.url).href,
    exportName: 'PubSubDriver',
    options: { projectId: pubsubEnv().projectId },
  },
});
