/**
 * `@queuekit/store-redis`: the queuekit {@link Store} on Redis (job records, leases, rate-limit
 * windows and fan-out counters shared by every process).
 *
 * @packageDocumentation
 */
export { createRedisStore, DEFAULT_REDIS_STORE_PREFIX, RedisStore, type RedisStoreOptions } from './store.js';
export type { Store, StoreSetOptions, StoreTtlOptions } from '@queuekit/core';
