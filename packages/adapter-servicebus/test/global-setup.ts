import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Connection string of the broker under test (never printed). */
    servicebusConnectionString: string;
    /** `test-server` (packages/servicebus-emulator), or `external` (Microsoft's emulator, a real namespace). */
    servicebusTarget: string;
    /** Control API port of the test server (0 for external targets). */
    servicebusControlPort: number;
  }
}

/** Lock duration of the test server's auto-created queues: the shortest lock the suite relies on. */
export const TEST_LOCK_MS = 2000;
/**
 * Queues of the fault suite (`qkf-`) get Service Bus's smallest LockDuration, 5 s: an outage shorter
 * than the lock costs no delivery (see the README, "When the broker goes away").
 */
export const FAULT_LOCK_MS = 5000;

/**
 * Start the AMQP test server on a free port, unless `SERVICEBUS_CONNECTION_STRING` points at
 * Microsoft's emulator or a real namespace (then queues are created through the administration API).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.SERVICEBUS_CONNECTION_STRING;
  if (external) {
    project.provide('servicebusConnectionString', external);
    project.provide('servicebusTarget', 'external');
    project.provide('servicebusControlPort', 0);
    return async () => undefined;
  }
  const { startEmulator, startControlServer } = await import('@queuekit/servicebus-emulator');
  const emulator = await startEmulator({
    defaultQueueProperties: {
      lockDurationMs: TEST_LOCK_MS,
      // The core counts attempts; the broker limit only stops endless crash loops.
      maxDeliveryCount: 100,
      requiresDuplicateDetection: true,
      duplicateDetectionWindowMs: 10 * 60_000,
    },
    queuePropertiesByPrefix: { 'qkf-': { lockDurationMs: FAULT_LOCK_MS } },
    // test/secrets.test.ts signs with many keys; test/auth.test.ts starts a server that checks them.
    sharedAccessKeys: false,
  });
  const control = await startControlServer(emulator);
  project.provide('servicebusConnectionString', emulator.connectionString);
  project.provide('servicebusTarget', 'test-server');
  project.provide('servicebusControlPort', control.port);
  return async () => {
    await control.close();
    await emulator.stop();
  };
}
