/**
 * Azure Service Bus adapter for queuekit: `createQueue({ url: 'servicebus://my-namespace/emails', name: 'emails' })`
 * (Microsoft Entra ID), or a connection string in the URL or in `SERVICEBUS_CONNECTION_STRING`.
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

/**
 * The driver for a queue URL: `servicebus://NAMESPACE[/QUEUE][?duplicateDetection=true&maxMessageBytes=N&...]`,
 * `servicebus://` (`SERVICEBUS_CONNECTION_STRING`), or a connection string `Endpoint=sb://...`. The queue in the
 * URL is informational: queues are named by `createQueue({ name })`.
 */
export function createDriver(
  options: DriverFactoryOptions & Partial<ServiceBusDriverOptions>,
): ServiceBusDriver {
  const { url, ...rest } = options;
  return new ServiceBusDriver({ ...optionsFromUrl(url), ...rest });
}
