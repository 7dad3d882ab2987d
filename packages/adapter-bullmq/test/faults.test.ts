import { describeFaultConformance } from '@queuekit/conformance';
import { afterAll } from 'vitest';
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

describeFaultConformance('bullmq', () => testDriver(prefix), {
  lockMs: 1000,
  viaProxy: { target: { host: redis.hostname, port: Number(redis.port || 6379) }, url: proxied },
  driverVia: (address) => new BullmqDriver({ url: proxied(address), prefix }),
});
