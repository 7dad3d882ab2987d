/** The injection token of the queue registered under `name` (what `@InjectQueue(name)` injects). */
export function getQueueToken(name: string): string {
  return `queuekit:queue:${name}`;
}

/** The injection token of the options given to `QueuekitModule.forRoot` / `forRootAsync`. */
export const QUEUEKIT_MODULE_OPTIONS = 'queuekit:module-options';

/** @internal Metadata keys written by the decorators and read by the explorer. */
export const PROCESSOR_METADATA = 'queuekit:processor';
export const QUEUE_EVENTS_LISTENER_METADATA = 'queuekit:queue-events-listener';
export const ON_QUEUE_EVENT_METADATA = 'queuekit:on-queue-event';
