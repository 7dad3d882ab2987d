/**
 * Azure Service Bus adapter for queuekit.
 *
 * @example
 * ```ts
 * import { createQueue } from '@queuekit/core';
 * // Connection string from SERVICEBUS_CONNECTION_STRING, or a namespace with @azure/identity:
 * const queue = createQueue<{ to: string }>({ url: 'servicebus://my-namespace/emails', name: 'emails' });
 * ```
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
 * Driver for a queue URL: `servicebus://NAMESPACE/QUEUE[?duplicateDetection=true&maxMessageBytes=N&createQueues=true]`
 * (Microsoft Entra credentials from `DefaultAzureCredential`), `servicebus://` alone
 * (`SERVICEBUS_CONNECTION_STRING`), or a connection string `Endpoint=sb://...`. The queue name
 * in the URL is informational: queues are named by `createQueue({ name })`.
 */
export function createDriver(
  options: DriverFactoryOptions & Partial<ServiceBusDriverOptions>,
): ServiceBusDriver {
  const { url, ...rest } = options;
  return new ServiceBusDriver({ ...optionsFromUrl(url), ...rest });
}
