// Compile-time checks (`pnpm typecheck` covers test/): an @OnQueueEvent method must accept its event's arguments.
import type { Job } from '@queuekit/core';
import { expect, it } from 'vitest';
import { OnQueueEvent, Processor, type QueueProcessor } from '../src/index.js';

interface Email {
  readonly to: string;
}

@Processor('types-only')
class Typed implements QueueProcessor<Email> {
  process(job: Job<Email>): string {
    return job.data.to;
  }
  @OnQueueEvent('completed')
  completed(job: Job<Email>, result: unknown): string {
    return `${job.data.to} ${String(result)}`;
  }
  @OnQueueEvent('failed')
  failed(_job: Job<Email>, error: Error): string {
    return error.message;
  }
  @OnQueueEvent('dead-lettered')
  deadLettered(info: { id: string; reason: string }): string {
    return info.reason;
  }
  @OnQueueEvent('error')
  error(): void {}
  // @ts-expect-error dead-lettered gives an info object, not a Job
  @OnQueueEvent('dead-lettered')
  wrongShape(job: Job<Email>): string {
    return job.data.to;
  }
  // @ts-expect-error failed gives (job, error): the second argument is an Error, not a number
  @OnQueueEvent('failed')
  wrongSecond(_job: Job<Email>, attempts: number): number {
    return attempts;
  }
}

it('the decorators leave the methods as they were', () => {
  const typed = new Typed();
  expect(typed.deadLettered({ id: '1', reason: 'max-attempts' })).toBe('max-attempts');
});
