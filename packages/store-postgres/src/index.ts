/**
 * `@queuekit/store-postgres`: the queuekit {@link Store} on PostgreSQL (job records, leases,
 * rate-limit windows and fan-out counters in one table, shared by every process).
 *
 * @packageDocumentation
 */
export {
  createPostgresStore,
  DEFAULT_POSTGRES_STORE_TABLE,
  PostgresStore,
  type PostgresStoreOptions,
} from './store.js';
export type { Store, StoreSetOptions, StoreTtlOptions } from '@queuekit/core';
