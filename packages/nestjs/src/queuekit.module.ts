import { type DynamicModule, Global, Module, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ConfigError } from '@queuekit/core';
import { QueuekitExplorer } from './explorer.js';
import { QueuekitHealthIndicator } from './health.js';
import type {
  QueuekitModuleAsyncOptions,
  QueuekitModuleOptions,
  QueuekitOptionsFactory,
  RegisterQueueOptions,
} from './options.js';
import { QueueRegistry } from './queue-registry.js';
import { getQueueToken, QUEUEKIT_MODULE_OPTIONS } from './tokens.js';

/** The registry, the explorer and the health indicator: one set per application, whoever imports it. */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [QueueRegistry, QueuekitExplorer, QueuekitHealthIndicator],
  exports: [QueueRegistry, QueuekitHealthIndicator],
})
export class QueuekitCoreModule {}

/**
 * queuekit for Nest, in the shape of `@nestjs/bullmq`: `forRoot` / `forRootAsync` once in the root
 * module for the options every queue shares (`url`, `store`, `defaults`...), `registerQueue` in each
 * module that sends to or consumes a queue.
 */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest dynamic module is a class with static factories
export class QueuekitModule {
  /** Options shared by every queue (all optional: without `forRoot` queues use `memory://`). */
  static forRoot(options: QueuekitModuleOptions = {}): DynamicModule {
    return QueuekitModule.root([{ provide: QUEUEKIT_MODULE_OPTIONS, useValue: options }], []);
  }

  /** The shared options from a factory (`useFactory` + `inject`), a class or an existing provider. */
  static forRootAsync(options: QueuekitModuleAsyncOptions): DynamicModule {
    return QueuekitModule.root(asyncOptionsProviders(options), options.imports ?? []);
  }

  /** Provide each queue for `@InjectQueue(name)`, `@Processor(name)` and `@QueueEventsListener(name)`. */
  static registerQueue(...queues: RegisterQueueOptions[]): DynamicModule {
    const providers: Provider[] = queues.map((queue) => {
      if (typeof queue?.name !== 'string' || queue.name.length === 0)
        throw new ConfigError('registerQueue(name)', 'every queue needs a name (a non-empty string)');
      return {
        provide: getQueueToken(queue.name),
        useFactory: (registry: QueueRegistry) => registry.register(queue),
        inject: [QueueRegistry],
      };
    });
    return {
      module: QueuekitModule,
      imports: [QueuekitCoreModule],
      providers,
      exports: providers.map((provider) => (provider as { provide: string }).provide),
    };
  }

  private static root(providers: Provider[], imports: NonNullable<DynamicModule['imports']>): DynamicModule {
    return {
      module: QueuekitModule,
      global: true,
      imports: [...imports, QueuekitCoreModule],
      providers,
      exports: [QUEUEKIT_MODULE_OPTIONS],
    };
  }
}

function asyncOptionsProviders(options: QueuekitModuleAsyncOptions): Provider[] {
  if (options.useFactory)
    return [
      { provide: QUEUEKIT_MODULE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
    ];
  const factory = options.useClass ?? options.useExisting;
  if (!factory) throw new ConfigError('forRootAsync', 'give one of useFactory, useClass or useExisting');
  const fromFactory: Provider = {
    provide: QUEUEKIT_MODULE_OPTIONS,
    useFactory: (built: QueuekitOptionsFactory) => built.createQueuekitOptions(),
    inject: [factory],
  };
  return options.useClass
    ? [fromFactory, { provide: options.useClass, useClass: options.useClass }]
    : [fromFactory];
}
