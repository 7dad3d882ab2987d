import type { HandlerContext, Job, ProcessOptions, QueueEvents, QueueOptions } from '@queuekit/core';
import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency, Type } from '@nestjs/common';

/** Options every queue of the application starts from; `registerQueue` overrides them per queue. */
export interface QueuekitModuleOptions extends Omit<QueueOptions<unknown>, 'name' | 'schema' | 'codec'> {
  /**
   * Most ms the application's shutdown waits for jobs still running (passed to `queue.close`).
   * Default 30,000, as `queue.close()`.
   */
  readonly closeTimeout?: number;
}

/** Builds the module options for `forRootAsync({ useClass | useExisting })`. */
export interface QueuekitOptionsFactory {
  createQueuekitOptions(): Promise<QueuekitModuleOptions> | QueuekitModuleOptions;
}

/** `QueuekitModule.forRootAsync`: options from a factory, a class or an existing provider. */
export interface QueuekitModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  readonly useFactory?: (...args: never[]) => Promise<QueuekitModuleOptions> | QueuekitModuleOptions;
  readonly inject?: (InjectionToken | OptionalFactoryDependency)[];
  readonly useClass?: Type<QueuekitOptionsFactory>;
  readonly useExisting?: Type<QueuekitOptionsFactory>;
}

/** One queue for `QueuekitModule.registerQueue`: its name, and options over the module's. */
export interface RegisterQueueOptions<T = unknown> extends Partial<Omit<QueueOptions<T>, 'name'>> {
  /** Queue name: letters, digits, `-`, `_` and `.`; 1-80 characters. */
  readonly name: string;
}

/** `@Processor(...)`: the queue a class consumes, and the options of its `queue.process` call. */
export interface ProcessorOptions extends ProcessOptions {
  readonly name: string;
}

/** The method a `@Processor` class implements; its resolved value is the job's result. */
export interface QueueProcessor<T = unknown, R = unknown> {
  process(job: Job<T>, ctx: HandlerContext): Promise<R> | R;
}

/** The events `@OnQueueEvent` can listen to. */
export type QueueEventName = keyof QueueEvents<unknown> & string;
