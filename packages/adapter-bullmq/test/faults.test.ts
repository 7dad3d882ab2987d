import { describeFaultConformance } from '@queuekit/conformance';
import { afterAll, describe, it } from 'vitest';
import { BullmqDriver } from '../src/index.js';
import { deletePrefix, REDIS_URL, testDriver, uniquePrefix } from './helpers.js';

const prefix = uniquePrefix('faults');
afterAll(async () => {
  await deletePrefix(prefix);
});

const redis = new URL(REDIS_URL);
const proxied = (address: { readonly host: string; readonly port: number }) => {
  const url = new URL(REDIS_URL);
  url.hostname = address.host;
  url.port = String(address.port);
  return url.toString();
};

(process.env.QUEUEKIT_FAULTS === '1' ? describeFaultConformance : skippedFaults)(
  'bullmq',
  () => testDriver(prefix),
  {
    lockMs: 1000,
    viaProxy: { target: { host: redis.hostname, port: Number(redis.port || 6379) }, url: proxied },
    driverVia: (address) => new BullmqDriver({ url: proxied(address), prefix }),
  },
);

/** The fault suite is not part of the default run until it passes on every adapter (QUEUEKIT_FAULTS=1 runs it). */
function skippedFaults(name: string, ..._rest: unknown[]): void {
  describe.skip(`faults: ${name} (set QUEUEKIT_FAULTS=1)`, () => {
    it('runs with QUEUEKIT_FAULTS=1', () => undefined);
  });
}
