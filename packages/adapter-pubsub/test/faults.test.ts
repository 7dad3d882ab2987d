import { describeFaultConformance } from '@queuekit/conformance';
import { describe, it } from 'vitest';
import { makeDriver, pubsubEnv } from './helpers.js';

// Through the suite's TCP proxy in front of the emulator: the client's apiEndpoint is the proxy.
const { emulatorHost } = pubsubEnv();
const [host, port] = emulatorHost.split(':');

(process.env.QUEUEKIT_FAULTS === '1' ? describeFaultConformance : skippedFaults)(
  'pubsub',
  () => makeDriver(),
  {
    lockMs: 2000,
    queuePrefix: 'qkf',
    ...(emulatorHost
      ? {
          viaProxy: {
            target: { host: host ?? '127.0.0.1', port: Number(port) },
            url: (address: { readonly host: string; readonly port: number }) =>
              `pubsub://${pubsubEnv().projectId}?apiEndpoint=${address.host}:${address.port}`,
          },
          driverVia: (address: { readonly host: string; readonly port: number }) =>
            makeDriver({ clientConfig: { apiEndpoint: `${address.host}:${address.port}` } }),
        }
      : {}),
  },
);

/** The fault suite is not part of the default run until it passes on every adapter (QUEUEKIT_FAULTS=1 runs it). */
function skippedFaults(name: string, ..._rest: unknown[]): void {
  describe.skip(`faults: ${name} (set QUEUEKIT_FAULTS=1)`, () => {
    it('runs with QUEUEKIT_FAULTS=1', () => undefined);
  });
}
