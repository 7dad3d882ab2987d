/**
 * queuekit for NestJS: `QueuekitModule`, `@InjectQueue`, `@Processor`, `@OnQueueEvent`, graceful
 * shutdown through Nest's lifecycle, and a health indicator for `@nestjs/terminus`.
 *
 * @packageDocumentation
 */
export {
  InjectQueue,
  OnQueueEvent,
  Processor,
  type QueueEventListener,
  QueueEventsListener,
} from './decorators.js';
export {
  type QueueHealth,
  QueuekitHealthIndicator,
  type QueuekitHealthOptions,
  type QueuekitHealthResult,
} from './health.js';
export type {
  ProcessorOptions,
  QueueEventName,
  QueueProcessor,
  QueuekitModuleAsyncOptions,
  QueuekitModuleOptions,
  QueuekitOptionsFactory,
  RegisterQueueOptions,
} from './options.js';
export { QueueRegistry } from './queue-registry.js';
export { QueuekitCoreModule, QueuekitModule } from './queuekit.module.js';
export { getQueueToken, QUEUEKIT_MODULE_OPTIONS } from './tokens.js';
