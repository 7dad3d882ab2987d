import { inject } from 'vitest';
import { PubSubDriver, type PubSubDriverOptions } from '../src/index.js';

/** Point this worker at the emulator the global setup started (or at the real service). */
export function pubsubEnv(): { projectId: string; emulatorHost: string } {
  const emulatorHost = inject('pubsubEmulatorHost');
  if (emulatorHost) process.env.PUBSUB_EMULATOR_HOST = emulatorHost;
  return { projectId: inject('pubsubProject'), emulatorHost };
}

/** A new driver (a new connection) on the test project. */
export function makeDriver(options: PubSubDriverOptions = {}): PubSubDriver {
  const { projectId } = pubsubEnv();
  return new PubSubDriver({ projectId, ...options });
}

/** A queue name unique to this run. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
