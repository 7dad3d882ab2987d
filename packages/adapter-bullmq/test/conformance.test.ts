import { describeConformance } from '@queuekit/conformance';
import { afterAll } from 'vitest';
import { deletePrefix, REDIS_URL, testDriver, uniquePrefix } from './helpers.js';

// Every driver of this run shares one key prefix of its own; whatever the suite's own
// `deleteQueue` cleanup leaves behind is deleted at the end.
const prefix = uniquePrefix('conformance');
afterAll(async () => {
  await deletePrefix(prefix);
});

describeConformance('bullmq', () => testDriver(prefix), {
  lockMs: 1000,
  // Crash workers are child processes on the built package, under the same key prefix.
  crashWorker: {
    module: new URL('../dist/index.js', import.meta.url).href,
    exportName: 'BullmqDriver',
    options: { url: REDIS_URL, prefix },
  },
});
