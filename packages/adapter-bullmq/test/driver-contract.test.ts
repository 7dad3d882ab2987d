import { describeDriverConformance } from '@queuekit/conformance';
import { afterAll } from 'vitest';
import { deletePrefix, testDriver, uniquePrefix } from './helpers.js';

// The driver factory of conformance.test.ts, under a key prefix of its own deleted at the end.
const prefix = uniquePrefix('driver-contract');
afterAll(async () => {
  await deletePrefix(prefix);
});
describeDriverConformance('bullmq', () => testDriver(prefix), { lockMs: 1000 });
