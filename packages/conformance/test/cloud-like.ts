/**
 * What the memory driver declares in the "cloud-like capabilities" suites (conformance, faults, driver
 * contract): what a cloud broker lacks, so the core's emulations run: priority bands, delay hops past a
 * 1 s native maximum, single-message sends, and typed errors for dedup and ordering keys.
 */
export const CLOUD_LIKE_CAPABILITIES = {
  priority: 'emulated',
  maxDelayMs: 1000,
  dedup: false,
  ordering: false,
  maxBatchSize: 1,
} as const;
