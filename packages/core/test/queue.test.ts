import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  createMemoryDriver,
  createQueue,
  MemoryBroker,
  QueueClosedError,
  SchemaValidationError,
} from '../src/index.js';

const driver = () => createMemoryDriver({ broker: new MemoryBroker() });

describe('createQueue', () => {
  it('validates options at construction and names the field', () => {
    expect(() => createQueue({ name: '' })).toThrow(/`name`/);
    expect(() => createQueue({ name: 'ok', defaults: { maxAttempts: 0 } })).toThrow(/`defaults.maxAttempts`/);
    expect(() => createQueue({ name: 'ok', defaults: { backoff: { jitter: 2 } } })).toThrow(
      /`defaults.backoff.jitter`/,
    );
    expect(() => createQueue({ name: 'ok', url: 'memory://', driver: driver() })).toThrow(ConfigError);
    const thrown = (() => {
      try {
        createQueue({ name: 'ok', defaults: { priority: 11 } });
      } catch (error) {
        return error;
      }
      return 'nothing thrown';
    })();
    expect(thrown).toMatchObject({ code: 'ERR_CONFIG', field: 'defaults.priority' });
  });

  it('validates with a zod schema on send (nothing sent) and types the data', async () => {
    const schema = z.object({ to: z.string().email(), retries: z.number().int().default(0) });
    const queue = createQueue({ name: 'mail', driver: driver(), ownsDriver: true, schema });
    await expect(queue.send('welcome', { to: 'nope', retries: 0 })).rejects.toBeInstanceOf(
      SchemaValidationError,
    );
    expect((await queue.stats()).waiting).toBe(0);
    const got = new Promise<{ to: string; retries: number }>((resolve) =>
      queue.process(async (job) => resolve(job.data)),
    );
    await queue.send('welcome', { to: 'ada@example.com', retries: 0 });
    expect(await got).toEqual({ to: 'ada@example.com', retries: 0 });
    await queue.close();
  });

  it('refuses a second handler, and sends after close', async () => {
    const queue = createQueue({ name: 'once', driver: driver(), ownsDriver: true });
    queue.process(async () => undefined);
    expect(() => queue.process(async () => undefined)).toThrow(/already has a handler/);
    await queue.close();
    await expect(queue.send('x', null)).rejects.toBeInstanceOf(QueueClosedError);
    await expect(queue.close()).resolves.toBeUndefined();
  });

  it('aborts the handler signal when close times out, and leaves the job for redelivery', async () => {
    const broker = new MemoryBroker();
    const queue = createQueue<null>({
      name: 'slow',
      driver: createMemoryDriver({ broker }),
      ownsDriver: true,
    });
    let aborted: unknown;
    const started = new Promise<void>((resolve) =>
      queue.process(
        (_job, ctx) =>
          new Promise((_, reject) => {
            resolve();
            ctx.signal.addEventListener('abort', () => {
              aborted = ctx.signal.reason;
              reject(ctx.signal.reason);
            });
          }),
        { lockDuration: 200 },
      ),
    );
    await queue.send('slow', null);
    await started;
    await queue.close({ timeout: 10 });
    expect(aborted).toBeInstanceOf(QueueClosedError);
    const counts = broker.counts('slow');
    expect(counts.deadLettered).toBe(0);
    expect(counts.waiting + counts.active).toBe(1);
  });
});

describe('peek', () => {
  it('shows waiting jobs by priority without consuming them', async () => {
    const broker = new MemoryBroker();
    const queue = createQueue<{ n: number }>({
      name: 'peeked',
      driver: createMemoryDriver({ broker }),
      ownsDriver: true,
    });
    await queue.send('low', { n: 1 }, { priority: 1 });
    await queue.send('high', { n: 2 }, { priority: 8, headers: { tenant: 'a' } });
    const runAt = new Date(Date.now() + 60_000);
    await queue.send('later', { n: 3 }, { runAt });
    const peeked = await queue.peek(10);
    expect(peeked.map((j) => j.name)).toEqual(['high', 'low', 'later']);
    expect(peeked[0]).toMatchObject({ data: { n: 2 }, priority: 8, attempt: 1, headers: { tenant: 'a' } });
    expect(peeked[2]?.runAt?.getTime()).toBe(runAt.getTime());
    expect(broker.counts('peeked')).toMatchObject({ waiting: 2, delayed: 1, active: 0 });
    await queue.close();
  });
});

describe('send coalescing', () => {
  it('sends made together travel in few driver calls, and a bad one fails alone', async () => {
    const driver = createMemoryDriver({
      broker: new MemoryBroker(),
      limitCapabilities: { maxBatchSize: 10 },
    });
    const calls: number[] = [];
    const send = driver.send.bind(driver);
    driver.send = async (queue, messages) => {
      calls.push(messages.length);
      return send(queue, messages);
    };
    const queue = createQueue<{ i: number }>({ name: 'coalesced', driver, ownsDriver: true });
    const results = await Promise.allSettled(
      Array.from({ length: 25 }, (_, i) => queue.send('c', { i }, i === 7 ? { priority: 42 } : {})),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(24);
    expect((results[7] as PromiseRejectedResult).reason).toMatchObject({
      code: 'ERR_CONFIG',
      field: 'options.priority',
    });
    expect(calls).toEqual([10, 10, 4]);
    expect((await queue.stats()).waiting).toBe(24);
    await queue.close();
  });
});
