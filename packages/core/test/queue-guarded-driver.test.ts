import { describe, expect, it } from 'vitest';
import {
  createMemoryDriver,
  createQueue,
  type Driver,
  MemoryBroker,
  QueuekitError,
  registerScheme,
} from '../src/index.js';
import { until } from './helpers.js';
import { wrapDriver } from './wrap.js';

const SECRET = 'hunter2-guarded';

describe('the queue calls its driver through guardDriver', () => {
  it('an untyped error from a driver call reaches the caller as a DriverError naming the operation', async () => {
    const inner = createMemoryDriver({ broker: new MemoryBroker() });
    const driver = wrapDriver(inner, {
      send: async () => {
        throw new TypeError('socket hang up');
      },
    });
    const queue = createQueue<number>({ name: 'guarded-send', driver });
    const error = await queue.send('x', 1).catch((e: unknown) => e);
    expect(QueuekitError.is(error, 'ERR_DRIVER')).toBe(true);
    expect(error).toMatchObject({ provider: 'memory', operation: 'send' });
    expect((error as Error).cause).toBeInstanceOf(TypeError);
    const stats = await wrapDriverStats(inner).catch((e: unknown) => e);
    expect(QueuekitError.is(stats, 'ERR_DRIVER')).toBe(true);
    await queue.close();
    await inner.close();
  });

  it("a failing receive is reported typed, without the URL's password", async () => {
    const broker = new MemoryBroker();
    registerScheme('qkguard', async () => () => {
      const inner = createMemoryDriver({ broker });
      return wrapDriver(inner, {
        receive: async () => {
          throw new Error(`connect to qkguard://app:${SECRET}@broker failed`);
        },
      });
    });
    const queue = createQueue<number>({ name: 'guarded-receive', url: `qkguard://app:${SECRET}@broker` });
    const errors: Error[] = [];
    queue.on('error', (error) => errors.push(error));
    queue.process(async () => undefined);
    await until(() => errors.length > 0, 'a receive error');
    await queue.close({ timeout: 1_000 });
    expect(QueuekitError.is(errors[0], 'ERR_DRIVER')).toBe(true);
    expect(errors[0]?.message).not.toContain(SECRET);
    expect(String((errors[0]?.cause as Error | undefined)?.message)).not.toContain(SECRET);
  });
});

/** `stats` of a queue over `inner` whose driver's stats throws a plain Error. */
async function wrapDriverStats(inner: Driver) {
  const driver = wrapDriver(inner, {
    stats: async () => {
      throw new Error('ECONNRESET');
    },
  });
  const queue = createQueue<number>({ name: 'guarded-stats', driver });
  try {
    return await queue.stats();
  } finally {
    await queue.close();
  }
}
