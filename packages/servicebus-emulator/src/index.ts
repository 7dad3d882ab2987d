/**
 * A small AMQP 1.0 server that `@azure/service-bus` accepts, for tests. Not Service Bus: see the
 * README for what it implements, the documentation each behaviour follows, and its guesses.
 *
 * @packageDocumentation
 */
export {
  DEFAULT_QUEUE_PROPERTIES,
  loadConfigFile,
  parseIsoDuration,
  type QueueDefinition,
  type QueueProperties,
  queuePropertiesFrom,
  queuesFromConfig,
} from './config.js';
export { Entity, type StoredMessage } from './entity.js';
export { type EmulatorOptions, ServiceBusEmulator, startEmulator } from './server.js';
export { type ControlServer, startControlServer } from './control.js';
