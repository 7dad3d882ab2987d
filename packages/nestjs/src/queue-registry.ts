import { Inject, Injectable, Logger, type BeforeApplicationShutdown, Optional } from '@nestjs/common';
import { ConfigError, createQueue, type Queue, type QueueOptions, scrubError } from '@queuekit/core';
import type { QueuekitModuleOptions, RegisterQueueOptions } from './options.js';
import { QUEUEKIT_MODULE_OPTIONS } from './tokens.js';

/**
 * Owns every queue the application registered: creates each once (a name registered by several
 * modules is one queue), logs their `error` events, and closes them all when the application shuts down.
 */
@Injectable()
export class QueueRegistry implements BeforeApplicationShutdown {
  private readonly logger = new Logger('Queuekit');
  private readonly queues = new Map<string, { queue: Queue<unknown>; options: RegisterQueueOptions }>();
  private closing: Promise<void> | undefined;

  constructor(
    @Optional() @Inject(QUEUEKIT_MODULE_OPTIONS) private readonly moduleOptions: QueuekitModuleOptions = {},
  ) {}

  /** The queue registered as `options.name`, created on first use. */
  register(options: RegisterQueueOptions): Queue<unknown> {
    const existing = this.queues.get(options.name);
    if (existing) {
      if (Object.keys(options).length > 1 && existing.options !== options)
        throw new ConfigError(
          `registerQueue(${options.name})`,
          'this queue is already registered with options; pass only { name } in the other modules',
        );
      return existing.queue;
    }
    if (this.closing)
      throw new ConfigError(`registerQueue(${options.name})`, 'the application is shutting down');
    const queue = createQueue<unknown>(this.queueOptions(options));
    queue.on('error', (error) =>
      this.logger.error(`queue ${options.name}: ${this.describe(options.name, error)}`),
    );
    this.queues.set(options.name, { queue, options });
    return queue;
  }

  /** The queue registered as `name`, if any. */
  get(name: string): Queue<unknown> | undefined {
    return this.queues.get(name)?.queue;
  }

  /** The message of `error` for a log line, with the secrets of the queue's and the module's URLs scrubbed. */
  describe(name: string, error: unknown): string {
    const urls = [this.queues.get(name)?.options.url, this.moduleOptions.url];
    const scrubbed = scrubError(error instanceof Error ? error : new Error(String(error)), urls);
    return scrubbed.message;
  }

  /** Every registered queue, by name. */
  all(): ReadonlyMap<string, Queue<unknown>> {
    return new Map([...this.queues].map(([name, { queue }]) => [name, queue]));
  }

  /**
   * Runs after every `onModuleDestroy` and before `onApplicationShutdown`, where most clients close their
   * connections (TypeORM, Redis clients): the jobs still running finish while what they use is still open.
   */
  beforeApplicationShutdown(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    const timeout = this.moduleOptions.closeTimeout;
    await Promise.all(
      [...this.queues].map(([name, { queue }]) =>
        queue
          .close(timeout === undefined ? {} : { timeout })
          .catch((error: unknown) =>
            this.logger.error(`closing queue ${name} failed: ${this.describe(name, error)}`),
          ),
      ),
    );
  }

  private queueOptions(options: RegisterQueueOptions): QueueOptions<unknown> {
    const { closeTimeout: _closeTimeout, ...root } = this.moduleOptions;
    const merged: Record<string, unknown> = { ...root, ...options };
    // Exactly one of url and driver: the queue's own choice replaces the module's.
    if (options.url !== undefined) delete merged.driver;
    if (options.driver !== undefined) delete merged.url;
    if (root.defaults || options.defaults) merged.defaults = { ...root.defaults, ...options.defaults };
    return merged as unknown as QueueOptions<unknown>;
  }
}
