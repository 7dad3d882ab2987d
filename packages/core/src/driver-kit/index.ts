/**
 * The driver kit: what every adapter needs and must get right, written once. Helpers that carry the
 * contract's invariants (settle once, lock expiry, typed errors, bounded batches, secret scrubbing) so a
 * driver only moves messages. `@queuekit/core/driver-kit`.
 *
 * @packageDocumentation
 */
export { type BatchFlush, Batcher } from './batcher.js';
export { chunk, type ChunkLimits } from './chunk.js';
export { cutText } from './cut-text.js';
export {
  DEAD_LETTER_HEADERS,
  type DeadLetterQueueOps,
  type DeadLetterQueueOptions,
  deadLetterQueueOps,
} from './dead-letter-queue.js';
export { type ClassifyContext, classified, classifyError, type ErrorClassifier } from './classify.js';
export {
  type CreateDeliveryOptions,
  createDelivery,
  type DeliveryOperations,
  type FollowUps,
} from './delivery.js';
export { foreignError, foreignMessage } from './foreign-error.js';
export { type GuardDriverOptions, guardDriver } from './guard.js';
export { PACKED_HEADERS, packCoreHeaders, unpackCoreHeaders } from './packed-headers.js';
export {
  param,
  type ParamSpec,
  type ParamValue,
  type ParsedParams,
  parseParams,
  type ParseParamsOptions,
} from './params.js';
export { type MessageView, readMessage, type ReadMessageOptions } from './read-message.js';
export { nullPrototypeRecord, stringRecord } from './string-record.js';
export { type WakeReason, Wakeup } from './wait.js';
export { backoffHeader, intHeader, maxAttemptsHeader } from '../headers.js';
export { REDIS_CREDENTIAL_COMMANDS } from '../credential-commands.js';
export { type CredentialCommandOption, Scrubber, type ScrubberOptions } from '../scrubber.js';
export { redactUrl } from '../redact.js';
