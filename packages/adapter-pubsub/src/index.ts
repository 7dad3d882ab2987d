/**
 * Google Cloud Pub/Sub adapter for queuekit: `pubsub://PROJECT[/TOPIC][?subscription=SUB]`.
 *
 * @packageDocumentation
 */
export { createDriver, createPubSubDriver, PubSubDriver } from './driver.js';
export { type PubSubDriverOptions, optionsFromUrl } from './options.js';
export { type QueueResources, queueResources } from './names.js';
