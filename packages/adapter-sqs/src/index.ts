/**
 * Amazon SQS adapter for queuekit.
 *
 * @example
 * import { createQueue } from '@queuekit/core';
 * const queue = createQueue<{ to: string }>({ name: 'emails', url: 'sqs://emails?region=eu-west-1' });
 *
 * @packageDocumentation
 */
import type { DriverFactoryOptions } from '@queuekit/core';
import { SqsDriver } from './driver.js';
import { parseSqsUrl } from './options.js';

export { SqsDriver, type SqsDriverConfig } from './driver.js';
export { AWS_MAX_DELAY_MS, AWS_MAX_MESSAGE_BYTES, parseSqsUrl, type SqsDriverOptions } from './options.js';

/**
 * Create an SQS driver from `sqs://QUEUE_NAME?region=..&endpoint=..` (credentials from the AWS default chain).
 * The URL's queue is resolved (created when `createIfMissing`, the default) so that its `MaximumMessageSize`
 * becomes the declared payload limit; best effort: the first real call reports a problem.
 */
export async function createDriver(options: DriverFactoryOptions): Promise<SqsDriver> {
  const driver = new SqsDriver(parseSqsUrl(options.url));
  await driver.ready().catch(() => undefined);
  return driver;
}
