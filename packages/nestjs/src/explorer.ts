import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { ConfigError, type Handler, type Queue } from '@queuekit/core';
import type { ProcessorOptions, QueueEventName, QueueProcessor } from './options.js';
import { QueueRegistry } from './queue-registry.js';
import { ON_QUEUE_EVENT_METADATA, PROCESSOR_METADATA, QUEUE_EVENTS_LISTENER_METADATA } from './tokens.js';

type Method = (...args: unknown[]) => unknown;

interface Discovered {
  readonly instance: object;
  readonly className: string;
  readonly queueName: string;
  readonly processor?: ProcessorOptions;
}

/**
 * Once every module is initialised (so what processors use is ready), binds `@OnQueueEvent` methods to
 * their queues, then starts each `@Processor`'s `process` as its queue's handler.
 */
@Injectable()
export class QueuekitExplorer implements OnApplicationBootstrap {
  private readonly logger = new Logger('Queuekit');

  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(MetadataScanner) private readonly scanner: MetadataScanner,
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(QueueRegistry) private readonly registry: QueueRegistry,
  ) {}

  onApplicationBootstrap(): void {
    const found = this.discover();
    const consumed = new Map<string, string>();
    for (const { processor, className } of found) {
      if (!processor) continue;
      const other = consumed.get(processor.name);
      if (other)
        throw new ConfigError(
          `@Processor(${processor.name})`,
          `both ${other} and ${className} consume this queue; a queue has one processor`,
        );
      consumed.set(processor.name, className);
    }
    // Every check before the first queue starts: a setup refused halfway would leave consumers running.
    const bound = found.map((entry) => ({
      entry,
      queue: this.queueOf(entry),
      handler: this.handlerOf(entry),
    }));
    for (const { entry, queue } of bound) this.bindEvents(entry, queue);
    for (const { entry, queue, handler } of bound)
      if (entry.processor && handler) {
        const { name: _name, ...processOptions } = entry.processor;
        queue.process(handler, processOptions);
      }
  }

  private discover(): Discovered[] {
    const found: Discovered[] = [];
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (typeof instance !== 'object' || instance === null) continue;
      const type = instance.constructor;
      const processor = this.reflector.get<ProcessorOptions | undefined>(PROCESSOR_METADATA, type);
      const listener = this.reflector.get<string | undefined>(QUEUE_EVENTS_LISTENER_METADATA, type);
      const queueName = processor?.name ?? listener;
      if (queueName === undefined) continue;
      if (!wrapper.isDependencyTreeStatic())
        throw new ConfigError(
          `${processor ? '@Processor' : '@QueueEventsListener'}(${queueName})`,
          `${type.name} is request- or transient-scoped; a queue's consumer must be a singleton provider`,
        );
      found.push({ instance, className: type.name, queueName, ...(processor ? { processor } : {}) });
    }
    return found;
  }

  private queueOf({ queueName, processor }: Discovered): Queue<unknown> {
    const queue = this.registry.get(queueName);
    if (!queue)
      throw new ConfigError(
        `${processor ? '@Processor' : '@QueueEventsListener'}(${queueName})`,
        `no queue "${queueName}" is registered; import QueuekitModule.registerQueue({ name: '${queueName}' })`,
      );
    return queue;
  }

  private bindEvents({ instance, className }: Discovered, queue: Queue<unknown>): void {
    const prototype = Object.getPrototypeOf(instance) as object;
    for (const methodName of this.scanner.getAllMethodNames(prototype)) {
      const method = (instance as Record<string, unknown>)[methodName] as Method;
      const event = this.reflector.get<QueueEventName | undefined>(ON_QUEUE_EVENT_METADATA, method);
      if (event === undefined) continue;
      queue.on(event, (...args: unknown[]) => {
        const result = method.apply(instance, args);
        // The queue isolates a listener that throws; one that rejects would be an unhandled rejection.
        if (result instanceof Promise)
          result.catch((error: unknown) =>
            this.logger.error(
              `${className}.${methodName} (${event} on ${queue.name}) rejected: ${this.registry.describe(queue.name, error)}`,
            ),
          );
      });
    }
  }

  private handlerOf({ instance, className, processor }: Discovered): Handler<unknown> | undefined {
    if (!processor) return undefined;
    const process = (instance as Partial<QueueProcessor>).process;
    if (typeof process !== 'function')
      throw new ConfigError(`@Processor(${processor.name})`, `${className} has no process(job, ctx) method`);
    return (job, ctx) => process.call(instance, job, ctx);
  }
}
