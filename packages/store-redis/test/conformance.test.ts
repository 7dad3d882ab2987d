import { describeStoreConformance } from '@queuekit/conformance';
import { createRedisStore } from '../src/index.js';
import { REDIS_URL, uniquePrefix } from './helpers.js';

// One prefix per run; the suite deletes its own keys in afterAll.
const prefix = uniquePrefix();

describeStoreConformance('redis', () => createRedisStore({ url: REDIS_URL, prefix }));
describeStoreConformance('redis (borrowed client)', async () => {
  const { Redis } = await import('ioredis');
  const client = new Redis(REDIS_URL);
  const store = createRedisStore({ client, prefix });
  const close = store.close.bind(store);
  return Object.assign(store, {
    close: async () => {
      await close();
      await client.quit();
    },
  });
});
