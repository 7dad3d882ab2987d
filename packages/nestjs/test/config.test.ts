// Configuration: forRootAsync in its three forms, queues without forRoot, per-queue options over the
// module's, and the typed errors a wrong setup gets (naming what is wrong) instead of a silent no-op.
import 'reflect-metadata';
import { Inject, Injectable, Module, Scope } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ConfigError, type Job, type Queue } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  getQueueToken,
  OnQueueEvent,
  Processor,
  QueueEventsListener,
  type QueuekitModuleOptions,
  QueuekitModule,
  type QueuekitOptionsFactory,
} from '../src/index.js';
import { deferred, Modules, uniqueName } from './helpers.js';

const modules = new Modules();
afterEach(() => modules.closeAll());

@Injectable()
class Settings {
  readonly queueUrl = 'memory://';
  readonly maxAttempts = 7;
}

@Module({ providers: [Settings], exports: [Settings] })
class SettingsModule {}

async function boot(imports: Parameters<typeof Test.createTestingModule>[0]['imports'], providers = []) {
  const module = modules.track(await Test.createTestingModule({ imports, providers }).compile());
  await module.init();
  return module;
}

function processedJob(name: string) {
  const seen = deferred<Job<{ n: number }>>();
  @Processor(name)
  class Capture {
    process(job: Job<{ n: number }>): void {
      seen.resolve(job);
    }
  }
  return { Capture, seen: seen.promise };
}

describe('QueuekitModule configuration', () => {
  it('forRootAsync useFactory with inject: the factory options (defaults.maxAttempts) apply to every queue', async () => {
    const name = uniqueName('nest-async');
    const { Capture, seen } = processedJob(name);
    const module = modules.track(
      await Test.createTestingModule({
        imports: [
          QueuekitModule.forRootAsync({
            imports: [SettingsModule],
            inject: [Settings],
            useFactory: (settings: Settings) => ({
              url: settings.queueUrl,
              defaults: { maxAttempts: settings.maxAttempts },
            }),
          }),
          QueuekitModule.registerQueue({ name }),
        ],
        providers: [Capture],
      }).compile(),
    );
    await module.init();
    await module.get<Queue<{ n: number }>>(getQueueToken(name)).send('one', { n: 1 });
    await expect(seen).resolves.toMatchObject({ data: { n: 1 }, maxAttempts: 7 });
  });

  it('forRootAsync useClass builds the options; registerQueue options win over them per queue', async () => {
    const name = uniqueName('nest-use-class');
    @Injectable()
    class Options implements QueuekitOptionsFactory {
      createQueuekitOptions(): QueuekitModuleOptions {
        return { defaults: { maxAttempts: 2, priority: 3 } };
      }
    }
    const { Capture, seen } = processedJob(name);
    const module = await boot(
      [
        QueuekitModule.forRootAsync({ useClass: Options }),
        QueuekitModule.registerQueue({ name, defaults: { maxAttempts: 5 } }),
      ],
      [Capture] as never[],
    );
    await module.get<Queue<{ n: number }>>(getQueueToken(name)).send('one', { n: 2 });
    await expect(seen).resolves.toMatchObject({ maxAttempts: 5, priority: 3 });
  });

  it('without forRoot a queue is on memory://, and one name registered by two modules is one queue', async () => {
    const name = uniqueName('nest-no-root');
    @Module({ imports: [QueuekitModule.registerQueue({ name })] })
    class First {}
    @Injectable()
    class Second {
      constructor(@Inject(getQueueToken(name)) readonly queue: Queue<{ n: number }>) {}
    }
    const { Capture, seen } = processedJob(name);
    const module = await boot([First, QueuekitModule.registerQueue({ name })], [Second, Capture] as never[]);
    const queue = module.get(Second).queue;
    expect(queue.toJSON()).toMatchObject({ name, provider: 'memory' });
    await queue.send('one', { n: 3 });
    await expect(seen).resolves.toMatchObject({ data: { n: 3 } });
  });

  it('forRootAsync without a factory, class or existing provider is a ConfigError', () => {
    expect(() => QueuekitModule.forRootAsync({})).toThrow(ConfigError);
  });

  it('registerQueue without a name is a ConfigError naming registerQueue(name)', () => {
    expect(() => QueuekitModule.registerQueue({ name: '' })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', field: 'registerQueue(name)' }),
    );
  });

  it('an invalid queue name is refused by the core with a ConfigError when the module is built', async () => {
    await expect(
      Test.createTestingModule({
        imports: [QueuekitModule.registerQueue({ name: 'no spaces allowed' })],
      }).compile(),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG' });
  });
});

describe('a wrong setup is a ConfigError at bootstrap, never a queue nobody consumes', () => {
  it('a @Processor for a queue that is not registered names the queue and the fix', async () => {
    const name = uniqueName('nest-unregistered');
    @Processor(name)
    class Orphan {
      process(): void {}
    }
    const module = modules.track(
      await Test.createTestingModule({
        imports: [QueuekitModule.forRoot(), QueuekitModule.registerQueue({ name: `${name}-other` })],
        providers: [Orphan],
      }).compile(),
    );
    await expect(module.init()).rejects.toThrow(
      /no queue "nest-unregistered-.*" is registered.*registerQueue/,
    );
  });

  it('two @Processor classes for one queue', async () => {
    const name = uniqueName('nest-two');
    @Processor(name)
    class A {
      process(): void {}
    }
    @Processor(name)
    class B {
      process(): void {}
    }
    const module = modules.track(
      await Test.createTestingModule({
        imports: [QueuekitModule.registerQueue({ name })],
        providers: [A, B],
      }).compile(),
    );
    await expect(module.init()).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      message: expect.stringContaining('both A and B consume this queue'),
    });
  });

  it('a @Processor class without process()', async () => {
    const name = uniqueName('nest-no-process');
    @Processor(name)
    class Empty {}
    const module = modules.track(
      await Test.createTestingModule({
        imports: [QueuekitModule.registerQueue({ name })],
        providers: [Empty],
      }).compile(),
    );
    await expect(module.init()).rejects.toThrow(/Empty has no process\(job, ctx\) method/);
  });

  it('a second registration of one name with other options', async () => {
    const name = uniqueName('nest-twice');
    await expect(
      Test.createTestingModule({
        imports: [
          QueuekitModule.registerQueue({ name, defaults: { maxAttempts: 2 } }),
          QueuekitModule.registerQueue({ name, defaults: { maxAttempts: 4 } }),
        ],
      }).compile(),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG', field: `registerQueue(${name})` });
  });

  it('decorators refuse an empty queue name', () => {
    expect(() => Processor('')).toThrow(ConfigError);
    expect(() => Processor({ name: '' })).toThrow(ConfigError);
    expect(() => QueueEventsListener('')).toThrow(ConfigError);
  });

  it('an @OnQueueEvent method that rejects is logged, and the queue goes on processing', async () => {
    const name = uniqueName('nest-rejecting-listener');
    const completed: string[] = [];
    @QueueEventsListener(name)
    class Flaky {
      @OnQueueEvent('completed')
      async onCompleted(job: Job<unknown>): Promise<void> {
        completed.push(job.name);
        throw new Error('listener failed');
      }
    }
    const done = deferred();
    @Processor(name)
    class Worker {
      process(job: Job<unknown>): void {
        if (job.name === 'second') done.resolve();
      }
    }
    const module = await boot([QueuekitModule.registerQueue({ name })], [Flaky, Worker] as never[]);
    const queue = module.get<Queue<unknown>>(getQueueToken(name));
    await queue.send('first', {});
    await queue.send('second', {});
    await done.promise;
    await queue.close();
    expect(completed).toEqual(['first', 'second']);
  });
});

describe('more setups', () => {
  it('forRootAsync useExisting takes the options from a provider of an imported module', async () => {
    const name = uniqueName('nest-use-existing');
    @Injectable()
    class SharedOptions implements QueuekitOptionsFactory {
      createQueuekitOptions(): QueuekitModuleOptions {
        return { url: 'memory://', defaults: { maxAttempts: 9 } };
      }
    }
    @Module({ providers: [SharedOptions], exports: [SharedOptions] })
    class OptionsModule {}
    const { Capture, seen } = processedJob(name);
    const module = await boot(
      [
        QueuekitModule.forRootAsync({ imports: [OptionsModule], useExisting: SharedOptions }),
        QueuekitModule.registerQueue({ name }),
      ],
      [Capture] as never[],
    );
    await module.get<Queue<{ n: number }>>(getQueueToken(name)).send('one', { n: 4 });
    await expect(seen).resolves.toMatchObject({ maxAttempts: 9 });
  });

  it('a request-scoped @Processor is a ConfigError (its scope is kept, not silently made a singleton)', async () => {
    const name = uniqueName('nest-scoped');
    @Processor(name)
    @Injectable({ scope: Scope.REQUEST })
    class PerRequest {
      process(): void {}
    }
    const module = modules.track(
      await Test.createTestingModule({
        imports: [QueuekitModule.registerQueue({ name })],
        providers: [PerRequest],
      }).compile(),
    );
    await expect(module.init()).rejects.toThrow(/PerRequest is request- or transient-scoped/);
  });
});

it('a setup refused at bootstrap starts no consumer, not even the valid processor beside the invalid one', async () => {
  const [good, bad] = [uniqueName('nest-good'), uniqueName('nest-bad')];
  @Processor(good)
  class Good {
    process(): void {}
  }
  @Processor(bad)
  class Bad {}
  const module = modules.track(
    await Test.createTestingModule({
      imports: [QueuekitModule.registerQueue({ name: good }, { name: bad })],
      providers: [Good, Bad],
    }).compile(),
  );
  const started: string[] = [];
  for (const name of [good, bad]) {
    const queue = module.get<Queue<unknown>>(getQueueToken(name));
    queue.process = () => {
      started.push(name);
    };
  }
  await expect(module.init()).rejects.toThrow(/Bad has no process/);
  expect(started).toEqual([]);
});
