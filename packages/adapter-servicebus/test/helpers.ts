import { inject } from 'vitest';
import { ServiceBusDriver } from '../src/index.js';

/** Connection string of the broker under test. */
export const connectionString = inject('servicebusConnectionString');
/** `test-server` or `external`. */
export const target = inject('servicebusTarget');
const controlPort = inject('servicebusControlPort');

/** Lock duration the tests can rely on: 2 s on the test server; real queues are created with 5 s (the minimum). */
export const lockMs = target === 'test-server' ? 2000 : 5000;

/** A new driver on the broker under test. */
export function makeDriver(options: { prefetch?: boolean } = {}): ServiceBusDriver {
  return new ServiceBusDriver({
    connectionString,
    duplicateDetection: true,
    ...options,
    ...(target === 'external' ? { createQueues: true, queueDefaults: { lockDurationMs: lockMs } } : {}),
  });
}

/** Delete a queue and its dead letters (test server: control API; external: administration API). */
export async function deleteQueue(name: string): Promise<void> {
  if (controlPort) {
    await fetch(`http://127.0.0.1:${controlPort}/queues/${encodeURIComponent(name)}`, { method: 'DELETE' });
    return;
  }
  const driver = makeDriver();
  try {
    await driver.deleteQueue(name).catch(() => undefined);
  } finally {
    await driver.close();
  }
}

/** Counts kept by the test server for `name` (undefined on external targets). */
export async function serverCounts(
  name: string,
): Promise<{ active: number; locked: number; scheduled: number; deadLettered: number } | undefined> {
  if (!controlPort) return undefined;
  const response = await fetch(`http://127.0.0.1:${controlPort}/queues/${encodeURIComponent(name)}`);
  return response.ok
    ? ((await response.json()) as { active: number; locked: number; scheduled: number; deadLettered: number })
    : undefined;
}

/**
 * Create `name` with these properties (test server: control API). External targets create queues through
 * the administration API with the driver's `queueDefaults`; there this is a no-op.
 */
export async function createTestQueue(
  name: string,
  properties: { lockDurationMs?: number; maxDeliveryCount?: number },
): Promise<void> {
  if (!controlPort) return;
  const response = await fetch(`http://127.0.0.1:${controlPort}/queues/${encodeURIComponent(name)}`, {
    method: 'PUT',
    body: JSON.stringify(properties),
  });
  if (!response.ok) throw new Error(`control API: ${response.status}`);
}
