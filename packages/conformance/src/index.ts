/**
 * The queuekit conformance suite: one vitest suite that every driver runs unchanged.
 *
 * @example
 * // test/conformance.test.ts of an adapter
 * import { describeConformance } from '@queuekit/conformance';
 * import { createDriver } from '../src/index.js';
 * describeConformance('bullmq', () => createDriver({ url: 'redis://127.0.0.1:6379' }), { lockMs: 1000 });
 *
 * @packageDocumentation
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Driver } from '@queuekit/core';
import { afterEach, describe } from 'vitest';
import { crashCases } from './cases/crash.js';
import { deadLetterCases } from './cases/dead-letters.js';
import { delayCases } from './cases/delay.js';
import { deliveryCases } from './cases/delivery.js';
import { featureCases } from './cases/features.js';
import { hostileCases } from './cases/hostile.js';
import { lifecycleCases } from './cases/lifecycle.js';
import { loadCases } from './cases/load.js';
import { lockCases } from './cases/locks.js';
import { orderingCases } from './cases/ordering.js';
import { outageCases } from './cases/outage.js';
import { retryCases } from './cases/retry.js';
import { shutdownCases } from './cases/shutdown.js';
import { tracingCases } from './cases/tracing.js';
import { validationCases } from './cases/validation.js';
import { workflowStateCases } from './cases/workflow-state.js';
import { workflowCases } from './cases/workflows.js';
import { type ConformanceOptions, createHarness } from './harness.js';

export {
  type CrashWorker,
  type CrashWorkerJob,
  type CrashWorkerOptions,
  crashWorkerScript,
  type LineReader,
  readJsonLines,
  spawnCrashWorker,
  type WorkerLine,
} from './crash.js';
export { type DriverFaults, faultyDriver, overrideDelivery, storeFailingOnce } from './faults.js';
export { type ConformanceOptions, deferred, type Expected, type Harness, until } from './harness.js';
export { type NetworkFaults, startTcpProxy, type TcpProxy } from './proxy.js';
export { SIMULATED_CALL_TIMEOUT_MS, type SimulatedNetwork, simulatedNetwork } from './simulated-network.js';
export { describeFaultConformance, type FaultCaseOptions, SEND_BOUND_MS } from './cases/faults.js';
export { emailSchema } from './cases/dead-letters.js';
export {
  type DriverCaseGroup,
  type DriverConformanceOptions,
  type DriverHarness,
  type OneDelivery,
  describeDriverConformance,
  nonUtf8Body,
} from './driver/index.js';

/**
 * Write the driver's declared capabilities next to the test results (`reports/` of the package under
 * test), for `scripts/capabilities.mjs`, which builds docs/capabilities.md from both.
 */
function recordCapabilities(name: string, driver: Driver): void {
  const dir = join(process.cwd(), 'reports');
  const slug = name
    .replace(/[^a-z0-9]+/gi, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase();
  const workflows = {
    schedules: driver.workflows?.schedules !== undefined,
    rateLimit: driver.workflows?.setRateLimit !== undefined,
    jobs: driver.workflows?.jobs !== undefined,
    fanOut: driver.workflows?.fanOut !== undefined,
    atomicFollowUps: driver.workflows?.atomicFollowUps === true,
  };
  const capabilities = {
    ...driver.capabilities,
    maxDelayMs: Number.isFinite(driver.capabilities.maxDelayMs) ? driver.capabilities.maxDelayMs : 'Infinity',
  };
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, `capabilities-${slug}.json`),
      `${JSON.stringify({ suite: `conformance: ${name}`, provider: driver.provider, capabilities, workflows }, null, 2)}
`,
    );
  } catch {
    // A read-only checkout only loses the generated table, not the tests.
  }
}

/**
 * Register the conformance suite for a driver. `makeDriver` must return a NEW driver (a new
 * connection to the same broker) on every call: cases use several to play several workers.
 * Optional behaviour is gated by the driver's declared `capabilities` only.
 */
export function describeConformance(
  name: string,
  makeDriver: () => Driver | Promise<Driver>,
  options: ConformanceOptions = {},
): void {
  describe(`conformance: ${name}`, async () => {
    const probe = await makeDriver();
    const h = createHarness(makeDriver, probe, options);
    await probe.close();
    recordCapabilities(name, probe);
    afterEach(() => h.cleanup());
    describe('delivery', () => deliveryCases(h));
    describe('retries', () => retryCases(h));
    describe('dead letters', () => deadLetterCases(h));
    describe('delays', () => delayCases(h));
    describe('features', () => featureCases(h));
    describe('lifecycle', () => lifecycleCases(h));
    describe('validation', () => validationCases(h));
    describe('workflows', () => workflowCases(h));
    describe('tracing', () => tracingCases(h));
    describe('crashes', () => crashCases(h));
    describe('locks', () => lockCases(h));
    describe('load', () => loadCases(h));
    describe('ordering', () => orderingCases(h));
    describe('hostile input', () => hostileCases(h));
    describe('shutdown', () => shutdownCases(h));
    describe('outages', () => outageCases(h));
    describe('workflow state', () => workflowStateCases(h));
    if (options.additionalTests) describe('additional', () => options.additionalTests?.(h));
  });
}
export { describeStoreConformance } from './store.js';
