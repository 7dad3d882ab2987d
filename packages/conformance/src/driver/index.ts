/**
 * The driver-level contract suite: a Driver tested directly, without a Queue, as Go CDK's `drivertest`
 * tests a driver beside the portable API's own tests.
 *
 * @example
 * // test/driver-contract.test.ts of an adapter
 * import { describeDriverConformance } from '@queuekit/conformance';
 * import { createDriver } from '../src/index.js';
 * describeDriverConformance('foo', () => createDriver({ url: 'foo://127.0.0.1' }), { lockMs: 1000 });
 */
import type { Driver } from '@queuekit/core';
import { afterAll, afterEach, describe } from 'vitest';
import { batchCases } from './cases/batches.js';
import { copyCases } from './cases/copies.js';
import { deadLetterQueueCases } from './cases/dead-letter-queue.js';
import { deadLetterCases } from './cases/dead-letters.js';
import { deferCases } from './cases/defer.js';
import { delayCases } from './cases/delays.js';
import { errorCases } from './cases/errors.js';
import { lifecycleCases } from './cases/lifecycle.js';
import { lockCases } from './cases/locks.js';
import { messageCases } from './cases/messages.js';
import { missingQueueCases } from './cases/missing-queue.js';
import { receiveCases } from './cases/receive.js';
import { settleCases } from './cases/settle.js';
import {
  createDriverHarness,
  type DriverCaseGroup,
  type DriverConformanceOptions,
  type DriverHarness,
} from './harness.js';

export type { DriverCaseGroup, DriverConformanceOptions, DriverHarness, OneDelivery } from './harness.js';
export { nonUtf8Body } from './cases/messages.js';

/** Each group: its title and the file of cases that registers it. */
const GROUPS: readonly (readonly [DriverCaseGroup, string, (h: DriverHarness) => void])[] = [
  ['settle', 'settle once', settleCases],
  ['locks', 'locks', lockCases],
  ['receive', 'receive', receiveCases],
  ['lifecycle', 'closed driver', lifecycleCases],
  ['messages', 'messages', messageCases],
  ['missingQueue', 'missing queue', missingQueueCases],
  ['delays', 'delays', delayCases],
  ['batches', 'batches', batchCases],
  ['deadLetters', 'dead letters', deadLetterCases],
  ['defer', 'defer', deferCases],
  ['errors', 'error classification', errorCases],
  ['copies', 'copies', copyCases],
  ['deadLetterQueue', 'dead-letter queue', deadLetterQueueCases],
];

/**
 * Register the driver contract suite. `makeDriver` must return a NEW driver (a new connection to the same
 * broker) on every call. Optional behaviour is gated by the driver's declared `capabilities` (and, for a
 * missing queue, by `withoutQueueCreation`); `groups` switches whole groups off.
 */
export function describeDriverConformance(
  name: string,
  makeDriver: () => Driver | Promise<Driver>,
  options: DriverConformanceOptions = {},
): void {
  describe.concurrent(`driver contract: ${name}`, async () => {
    const probe = await makeDriver();
    const h = createDriverHarness(makeDriver, probe, options);
    await probe.close();
    afterAll(() => h.close());
    for (const [group, title, cases] of GROUPS) {
      if (options.groups?.[group] !== false) describe(title, () => cases(h));
    }
    if (options.additionalTests) {
      describe.sequential('additional', () => {
        afterEach(() => h.cleanup());
        options.additionalTests?.(h);
      });
    }
  });
}
