/**
 * BullMQ adapter for queuekit: `redis://host:port/db` (or `rediss://` for TLS) queue URLs.
 *
 * @packageDocumentation
 */
export { BullmqDriver, createDriver } from './driver.js';
export { DEAD_LETTER_FIELD, type DeadLetterRecord } from './job-mapping.js';
export type { BullmqDriverOptions } from './options.js';
export { BullmqWorkflows, schedulerId, type WorkflowHost } from './workflows.js';
export { type BodyEncoding, META_OPTION, type QueuekitJobMeta, readMeta } from './payload.js';
export { fromBullPriority, toBullPriority } from './priority.js';
