/**
 * RabbitMQ adapter for queuekit: `amqp://user:pass@host:5672/vhost` (or `amqps://` for TLS).
 *
 * @packageDocumentation
 */
import { ConfigError, type DriverFactoryOptions } from '@queuekit/core';
import { RabbitMqDriver } from './driver.js';

export type { ConnectionEvents, ConnectionManager } from './connection.js';
export { createRabbitMqDriver, RabbitMqDriver } from './driver.js';
export {
  DEFAULT_DELAY_BUCKETS_MS,
  type RabbitMqDriverOptions,
  type RabbitMqQueueType,
  type ReconnectOptions,
} from './options.js';
export type { PemSource, RabbitMqTlsOptions } from './tls.js';
export { deadLetterQueueName, waitQueueName } from './topology.js';

/**
 * Entry point of the URL registry (`createQueue({ url: 'amqp://...' })`). Options beyond the URL
 * can be given as query parameters: `queueType=quorum`, `deliveryLimit=20`, `atomicFollowUps=false`,
 * and on `amqps://` RabbitMQ's TLS parameters `cacertfile`, `certfile`, `keyfile`, `verify`,
 * `server_name_indication`.
 */
export function createDriver(options: DriverFactoryOptions): Promise<RabbitMqDriver> {
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    return Promise.reject(new ConfigError('url', 'expected amqp://user:pass@host:5672/vhost or amqps://...'));
  }
  const queueType = url.searchParams.get('queueType');
  const deliveryLimit = url.searchParams.get('deliveryLimit');
  const atomicFollowUps = url.searchParams.get('atomicFollowUps');
  url.searchParams.delete('queueType');
  url.searchParams.delete('deliveryLimit');
  url.searchParams.delete('atomicFollowUps');
  let driver: RabbitMqDriver;
  try {
    driver = new RabbitMqDriver({
      url: url.toString(),
      ...(queueType === null ? {} : { queueType: queueType as 'classic' | 'quorum' }),
      ...(deliveryLimit === null ? {} : { deliveryLimit: Number(deliveryLimit) }),
      ...(atomicFollowUps === null ? {} : { atomicFollowUps: atomicFollowUps !== 'false' }),
    });
  } catch (error) {
    return Promise.reject(error);
  }
  // Connect in the background, not before handing the driver over: a queue closed while the broker is
  // unreachable waited for this connect (up to unavailableTimeoutMs, 15 s) before it could close it.
  // Each call waits for the connection itself, and fails typed (unavailable, refused credentials).
  driver.connect().catch(() => undefined);
  return Promise.resolve(driver);
}
