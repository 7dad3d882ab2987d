// The module as an application uses it, on memory:// and on Redis (the BullMQ adapter): a service sends
// through @InjectQueue, a @Processor class consumes (with a dependency injected by type), @OnQueueEvent
// methods hear the outcome, options reach queue.process, and app.close() drains the job in flight.
import 'reflect-metadata';
import { Inject, Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { HandlerContext, Job, Queue } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  InjectQueue,
  OnQueueEvent,
  Processor,
  QueueEventsListener,
  type QueueProcessor,
  QueuekitModule,
} from '../src/index.js';
import { deferred, Modules, uniqueName, until } from './helpers.js';

const REDIS_URL = process.env.QUEUEKIT_REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Thumbnail {
  readonly url: string;
}

const modules = new Modules();
afterEach(() => modules.closeAll());

describe.each([
  ['memory', 'memory://'],
  ['redis (bullmq)', REDIS_URL],
])('@queuekit/nestjs on %s', (_label, url) => {
  it('a service sends through @InjectQueue and a @Processor with injected dependencies processes the job', async () => {
    const name = uniqueName('nest-thumbs');

    @Injectable()
    class Resizer {
      resize(source: string): string {
        return `${source}?w=128`;
      }
    }

    @Injectable()
    class Thumbnails {
      constructor(@InjectQueue(name) readonly queue: Queue<Thumbnail>) {}
      request(source: string): Promise<string> {
        return this.queue.send('make', { url: source });
      }
    }

    const events: string[] = [];
    const done = deferred<{ id: string; result: unknown }>();

    @Processor(name)
    class ThumbnailProcessor implements QueueProcessor<Thumbnail, string> {
      // Injected by type: the class's emitted design:paramtypes, as in any Nest application.
      constructor(private readonly resizer: Resizer) {}
      process(job: Job<Thumbnail>, ctx: HandlerContext): string {
        expect(ctx.signal.aborted).toBe(false);
        return this.resizer.resize(job.data.url);
      }
      @OnQueueEvent('active')
      onActive(job: Job<Thumbnail>): void {
        events.push(`active:${job.name}`);
      }
      @OnQueueEvent('completed')
      onCompleted(job: Job<Thumbnail>, result: unknown): void {
        events.push(`completed:${job.name}`);
        done.resolve({ id: job.id, result });
      }
    }

    const heard = deferred<string>();
    @QueueEventsListener(name)
    class Audit {
      @OnQueueEvent('completed')
      async onCompleted(job: Job<Thumbnail>): Promise<void> {
        heard.resolve(job.id);
      }
    }

    const module = modules.track(
      await Test.createTestingModule({
        imports: [QueuekitModule.forRoot({ url }), QueuekitModule.registerQueue({ name })],
        providers: [Resizer, Thumbnails, ThumbnailProcessor, Audit],
      }).compile(),
    );
    await module.init();

    const id = await module.get(Thumbnails).request('https://example.com/cat.png');
    await expect(done.promise).resolves.toEqual({ id, result: 'https://example.com/cat.png?w=128' });
    await expect(heard.promise).resolves.toBe(id);
    expect(events).toEqual(['active:make', 'completed:make']);
  });

  it('@Processor options reach queue.process: concurrency 2 runs two jobs at once, never three', async () => {
    const name = uniqueName('nest-concurrency');
    let running = 0;
    let most = 0;
    let completed = 0;
    const gate = deferred();

    @Processor(name, { concurrency: 2, lockDuration: 10_000 })
    class Slow {
      async process(): Promise<void> {
        running += 1;
        most = Math.max(most, running);
        // Released only once two run at once: with the default concurrency (1) this never happens.
        if (running === 2) gate.resolve();
        await gate.promise;
        running -= 1;
      }
      @OnQueueEvent('completed')
      onCompleted(): void {
        completed += 1;
      }
    }

    const module = modules.track(
      await Test.createTestingModule({
        imports: [QueuekitModule.forRoot({ url }), QueuekitModule.registerQueue({ name })],
        providers: [Slow],
      }).compile(),
    );
    await module.init();
    const queue = module.get<Queue<number>>(`queuekit:queue:${name}`);
    await queue.sendBatch([1, 2, 3, 4].map((n) => ({ name: 'slow', data: n })));
    await until(() => completed === 4, 'four jobs completed');
    expect(most).toBe(2);
  });

  it('closing the application waits for the job in flight, which completes, then closes the queue', async () => {
    const name = uniqueName('nest-shutdown');
    const started = deferred();
    const finish = deferred();
    const outcome: string[] = [];

    @Processor(name)
    class LongJob {
      async process(_job: Job<unknown>, ctx: HandlerContext): Promise<string> {
        started.resolve();
        await finish.promise;
        outcome.push(ctx.signal.aborted ? 'aborted' : 'finished');
        return 'ok';
      }
      @OnQueueEvent('completed')
      onCompleted(): void {
        outcome.push('completed');
      }
    }

    @Injectable()
    class Sender {
      constructor(@Inject(`queuekit:queue:${name}`) readonly queue: Queue<{ n: number }>) {}
    }

    const module = await Test.createTestingModule({
      imports: [
        QueuekitModule.forRoot({ url, closeTimeout: 20_000 }),
        QueuekitModule.registerQueue({ name }),
      ],
      providers: [LongJob, Sender],
    }).compile();
    await module.init();
    const queue = module.get(Sender).queue;
    await queue.send('long', { n: 1 });
    await started.promise;

    let closeCalled = false;
    const close = queue.close.bind(queue);
    queue.close = (options) => {
      closeCalled = true;
      return close(options);
    };
    let closed = false;
    const closing = module.close().then(() => {
      closed = true;
    });
    await until(() => closeCalled, 'the shutdown hook to close the queue');
    await new Promise((resolve) => setImmediate(resolve));
    // The application's close is waiting on the handler: let it finish only now.
    expect(closed).toBe(false);
    expect(outcome).toEqual([]);
    finish.resolve();
    await closing;
    expect(outcome).toEqual(['finished', 'completed']);
    await expect(queue.send('late', { n: 2 })).rejects.toMatchObject({ code: 'ERR_QUEUE_CLOSED' });
  });
});
