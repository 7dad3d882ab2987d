/**
 * Azure Service Bus adapter for queuekit (`servicebus://NAMESPACE/QUEUE`, or a connection string). See the README.
 *
 * @packageDocumentation
 */
import type { DriverFactoryOptions } from '@queuekit/core';
import { ServiceBusDriver } from './driver.js';
import { optionsFromUrl, type ServiceBusDriverOptions } from './options.js';

export { ServiceBusDriver } from './driver.js';
export {
  AMQP_OVERHEAD_BYTES,
  optionsFromUrl,
  PREMIUM_MAX_MESSAGE_BYTES,
  STANDARD_MAX_MESSAGE_BYTES,
  type ServiceBusDriverOptions,
  type ServiceBusQueueDefaults,
} from './options.js';

/** The driver for a queue URL (see `optionsFromUrl`); the queue in the URL is informational. */
export function createDriver(
  options: DriverFactoryOptions & Partial<ServiceBusDriverOptions>,
): ServiceBusDriver {
  const { url, ...rest } = options;
  return new ServiceBusDriver({ ...optionsFromUrl(url), ...rest });
}
