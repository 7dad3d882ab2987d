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

/** How long the URL factory waits for its first connection attempt, so that a refused login fails it. */
const FIRST_ATTEMPT_WAIT_MS = 1_000;

/**
 * Entry point of the URL registry (`createQueue({ url: 'amqp://...' })`). It connects in the background: a queue
 * closed while the broker is unreachable must not first wait for this connect. Each call waits for it, typed.
 * Only a refusal that retrying cannot mend (wrong credentials, vhost, certificate) fails it, with
 * AuthenticationError, when the first attempt tells so within a second.
 */
export async function createDriver(options: DriverFactoryOptions): Promise<RabbitMqDriver> {
  const driver = new RabbitMqDriver({ url: options.url });
  driver.connect().catch(() => undefined);
  const refused = await driver.connection.firstAttempt(FIRST_ATTEMPT_WAIT_MS);
  if (refused) {
    await driver.close();
    throw refused;
  }
  return driver;
}
