import { describeConformance } from '@queuekit/conformance';
import { afterAll } from 'vitest';
import { deletePrefix, testDriver, uniquePrefix } from './helpers.js';

// Every driver of this run shares one key prefix of its own; whatever the suite's own
// `deleteQueue` cleanup leaves behind is deleted at the end.
const prefix = uniquePrefix('conformance');
afterAll(async () => {
  await deletePrefix(prefix);
});

describeConformance('bullmq', () => testDriver(prefix), { lockMs: 1000 });
