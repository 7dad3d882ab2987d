import { describeFaultConformance } from '@queuekit/conformance';
import { describe, it } from 'vitest';
import { endpoint, makeDriver } from './helpers.js';

// Through the suite's TCP proxy where the SQS under test has an endpoint (fauxqs, an emulator).
const target = endpoint ? new URL(endpoint) : undefined;
const proxied = (address: { readonly host: string; readonly port: number }) => {
  const url = new URL(endpoint);
  url.hostname = address.host;
  url.port = String(address.port);
  return url.toString().replace(/\/$/, '');
};

(process.env.QUEUEKIT_FAULTS === '1' ? describeFaultConformance : skippedFaults)('sqs', () => makeDriver(), {
  lockMs: 2000,
  queuePrefix: 'qkf-sqs',
  ...(target
    ? {
        viaProxy: { target: { host: target.hostname, port: Number(target.port || 80) }, url: proxied },
        driverVia: (address: { readonly host: string; readonly port: number }) =>
          makeDriver({ endpoint: proxied(address) }),
      }
    : {}),
});

/** The fault suite is not part of the default run until it passes on every adapter (QUEUEKIT_FAULTS=1 runs it). */
function skippedFaults(name: string, ..._rest: unknown[]): void {
  describe.skip(`faults: ${name} (set QUEUEKIT_FAULTS=1)`, () => {
    it('runs with QUEUEKIT_FAULTS=1', () => undefined);
  });
}
