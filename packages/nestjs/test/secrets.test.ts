// The module logs every queue's `error` events through Nest's Logger: never with the URL's password.
import 'reflect-metadata';
import type { LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { afterEach, expect, it } from 'vitest';
import type { Queue } from '@queuekit/core';
import { getQueueToken, OnQueueEvent, Processor, QueuekitModule } from '../src/index.js';
import { Modules, uniqueName, until } from './helpers.js';

const modules = new Modules();
afterEach(() => modules.closeAll());

const SECRET = 'hunter2-not-for-logs';

class CapturingLogger implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown): void {
    this.lines.push(String(message));
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.lines.push([message, ...rest].map(String).join(' '));
  }
  warn(message: unknown): void {
    this.lines.push(String(message));
  }
}

it('a consumer that cannot reach its broker logs the error, with the password scrubbed', async () => {
  const name = uniqueName('nest-secret');
  @Processor(name)
  class Unreachable {
    process(): void {}
  }
  // Nothing listens on port 1: every connection attempt fails at once.
  const url = `redis://:${SECRET}@127.0.0.1:1`;
  const logger = new CapturingLogger();
  const module = modules.track(
    await Test.createTestingModule({
      imports: [QueuekitModule.forRoot({ url, closeTimeout: 2_000 }), QueuekitModule.registerQueue({ name })],
      providers: [Unreachable],
    }).compile(),
  );
  module.useLogger(logger);
  await module.init();
  await until(
    () => logger.lines.some((line) => line.includes(`queue ${name}:`)),
    'an error logged for the queue',
  );
  await module.close();
  expect(logger.lines.join('\n')).not.toContain(SECRET);
});

it('an @OnQueueEvent method that rejects with the URL in its message is logged with the password scrubbed', async () => {
  const name = uniqueName('nest-secret-listener');
  const url = `redis://:${SECRET}@127.0.0.1:6379`;
  @Processor(name)
  class Worker {
    process(): void {}
    @OnQueueEvent('completed')
    async onCompleted(): Promise<void> {
      throw new Error(`could not report to ${url}`);
    }
  }
  const logger = new CapturingLogger();
  const module = modules.track(
    await Test.createTestingModule({
      imports: [QueuekitModule.registerQueue({ name, url: 'memory://' }), QueuekitModule.forRoot({ url })],
      providers: [Worker],
    }).compile(),
  );
  module.useLogger(logger);
  await module.init();
  await module.get<Queue<unknown>>(getQueueToken(name)).send('one', {});
  await until(() => logger.lines.some((line) => line.includes('Worker.onCompleted')), 'the rejection logged');
  const logged = logger.lines.join('\n');
  expect(logged).toContain('could not report to');
  expect(logged).not.toContain(SECRET);
});
