/**
 * BullMQ adapter for queuekit: `redis://host:port/db` (or `rediss://` for TLS) queue URLs.
 *
 * @packageDocumentation
 */
export type { DriverHost as WorkflowHost } from './admin.js';
export { BullmqDriver, createDriver } from './driver.js';
export { BullmqWorkflows, schedulerId } from './flows/workflows.js';
export type { BullmqDriverOptions } from './options.js';
export {
  type BodyEncoding,
  DEAD_LETTER_FIELD,
  type DeadLetterRecord,
  fromBullPriority,
  META_OPTION,
  type QueuekitJobMeta,
  readMeta,
  toBullPriority,
} from './wire.js';
