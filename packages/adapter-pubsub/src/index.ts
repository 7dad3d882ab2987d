/**
 * Google Cloud Pub/Sub adapter for queuekit: `pubsub://PROJECT[/TOPIC][?subscription=SUB]`.
 *
 * @packageDocumentation
 */
export { createDriver, createPubSubDriver, PubSubDriver } from './driver.js';
export { optionsFromUrl, type PubSubDriverOptions } from './options.js';
export { type QueueResources, queueResources } from './wire.js';
