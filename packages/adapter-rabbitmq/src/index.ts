/**
 * RabbitMQ adapter for queuekit: `amqp://user:pass@host:5672/vhost` (or `amqps://` for TLS).
 *
 * @packageDocumentation
 */
import type { DriverFactoryOptions } from '@queuekit/core';
import { RabbitMqDriver } from './driver.js';

export type { ConnectionEvents, ConnectionManager } from './admin.js';
export { deadLetterQueueName, waitQueueName } from './admin.js';
export { createRabbitMqDriver, RabbitMqDriver } from './driver.js';
export {
  DEFAULT_DELAY_BUCKETS_MS,
  type PemSource,
  type RabbitMqDriverOptions,
  type RabbitMqQueueType,
  type RabbitMqTlsOptions,
  type ReconnectOptions,
} from './options.js';

/**
 * Entry point of the URL registry (`createQueue({ url: 'amqp://...' })`). It connects in the background: a queue
 * closed while the broker is unreachable must not first wait for this connect. Each call waits for it, typed.
 */
export async function createDriver(options: DriverFactoryOptions): Promise<RabbitMqDriver> {
  const driver = new RabbitMqDriver({ url: options.url });
  driver.connect().catch(() => undefined);
  return driver;
}
