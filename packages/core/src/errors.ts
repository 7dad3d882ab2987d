/**
 * Typed errors. Every error thrown by queuekit is a {@link QueuekitError} with a stable `code`
 * that callers can switch on; messages are for humans and may change.
 */

export * from './errors/base.js';
export type { ErrorClassByCode } from './errors/by-code.js';
export * from './errors/broker.js';
export * from './errors/input.js';
export * from './errors/runtime.js';
