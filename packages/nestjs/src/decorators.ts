import { Inject, Injectable, SetMetadata } from '@nestjs/common';
import { ConfigError } from '@queuekit/core';
import type { ProcessOptions, QueueEvents } from '@queuekit/core';
import type { ProcessorOptions, QueueEventName } from './options.js';
import {
  getQueueToken,
  ON_QUEUE_EVENT_METADATA,
  PROCESSOR_METADATA,
  QUEUE_EVENTS_LISTENER_METADATA,
} from './tokens.js';

/** Inject the `Queue<T>` registered with `QueuekitModule.registerQueue({ name })`. */
export function InjectQueue(name: string): PropertyDecorator & ParameterDecorator {
  return Inject(getQueueToken(name));
}

function queueName(value: unknown, decorator: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new ConfigError(`@${decorator}(name)`, 'a queue name (a non-empty string) is required');
  return value;
}

// Nest's own watermark: a class already decorated `@Injectable({ scope })` keeps its scope (and is then refused
// at bootstrap, as a queue's consumer must be a singleton) instead of being silently made a singleton.
const INJECTABLE_WATERMARK = '__injectable__';

function injectable(target: object): void {
  if (Reflect.getMetadata(INJECTABLE_WATERMARK, target) !== true) Injectable()(target as never);
}

/**
 * Mark a provider class as the consumer of queue `name`: its `process(job, ctx)` method becomes the
 * queue's handler once the application has bootstrapped, with `options` (concurrency, lockDuration,
 * timeout, ...) passed to `queue.process`. One processor per queue.
 */
export function Processor(name: string, options?: ProcessOptions): ClassDecorator;
export function Processor(options: ProcessorOptions): ClassDecorator;
export function Processor(
  nameOrOptions: string | ProcessorOptions,
  options: ProcessOptions = {},
): ClassDecorator {
  const resolved: ProcessorOptions =
    typeof nameOrOptions === 'string' ? { ...options, name: nameOrOptions } : { ...nameOrOptions };
  queueName(resolved.name, 'Processor');
  return (target) => {
    SetMetadata(PROCESSOR_METADATA, resolved)(target);
    injectable(target);
  };
}

/** Mark a provider class whose `@OnQueueEvent` methods listen to queue `name` without consuming it. */
export function QueueEventsListener(name: string): ClassDecorator {
  const checked = queueName(name, 'QueueEventsListener');
  return (target) => {
    SetMetadata(QUEUE_EVENTS_LISTENER_METADATA, checked)(target);
    injectable(target);
  };
}

/** A method that can listen to `event`: it accepts that event's arguments, whatever the queue's payload type. */
export type QueueEventListener<E extends QueueEventName> = (...args: QueueEvents<never>[E]) => unknown;

/**
 * Call this method on `event` of the class's queue (`@Processor` or `@QueueEventsListener` classes),
 * with the event's arguments: `completed` gives `(job, result)`, `failed` gives `(job, error)`,
 * `dead-lettered` gives `(info)`, ... A method whose parameters do not fit the event does not compile.
 */
export function OnQueueEvent<E extends QueueEventName>(
  event: E,
): <M extends QueueEventListener<E>>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => TypedPropertyDescriptor<M> {
  return (target, key, descriptor) => {
    SetMetadata(ON_QUEUE_EVENT_METADATA, event)(target, key, descriptor);
    return descriptor;
  };
}
