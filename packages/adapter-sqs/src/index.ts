/**
 * Amazon SQS adapter for queuekit: `createQueue({ name: 'emails', url: 'sqs://emails?region=eu-west-1' })`.
 *
 * @packageDocumentation
 */
import type { DriverFactoryOptions } from '@queuekit/core';
import { SqsDriver } from './driver.js';
import { parseSqsUrl } from './options.js';

export { SqsDriver, type SqsDriverConfig } from './driver.js';
export { AWS_MAX_DELAY_MS, AWS_MAX_MESSAGE_BYTES, parseSqsUrl, type SqsDriverOptions } from './options.js';

/**
 * The driver of `sqs://QUEUE_NAME?region=..&endpoint=..` (credentials from the AWS default chain). The URL's
 * queue is resolved (created when allowed) so that its `MaximumMessageSize` becomes the payload limit; best
 * effort: the first real call reports a problem.
 */
export async function createDriver(options: DriverFactoryOptions): Promise<SqsDriver> {
  const driver = new SqsDriver(parseSqsUrl(options.url));
  await driver.ready().catch(() => undefined);
  return driver;
}
