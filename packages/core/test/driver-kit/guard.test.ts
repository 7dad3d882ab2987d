import util from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Delivery, Driver } from '../../src/driver.js';
import { guardDriver, Scrubber } from '../../src/driver-kit/index.js';
import {
  BrokerUnavailableError,
  DriverError,
  LockLostError,
  type QueuekitError,
  UnsupportedFeatureError,
} from '../../src/errors.js';
import { createMemoryDriver, MemoryBroker } from '../../src/index.js';

const message = { id: 'a', name: 'n', body: new Uint8Array([1]), headers: {} };

/** A memory driver whose calls throw what `failure` says (a vendor error, a sync throw...). */
function failing(failure: () => unknown, classifyError?: Driver['classifyError']): Driver {
  const inner = createMemoryDriver({ broker: new MemoryBroker() });
  class Flaky {
    readonly #inner = inner;
    readonly apiVersion = inner.apiVersion;
    readonly provider = 'flaky';
    readonly capabilities = inner.capabilities;
    readonly classifyError = classifyError;
    get secretGetter() {
      return this.#inner.provider; // a private field behind a getter still reads through the guard
    }
    send(queue: string, messages: Parameters<Driver['send']>[1]) {
      return this.#inner.send(queue, messages);
    }
    async receive(queue: string, options: Parameters<Driver['receive']>[1]): Promise<Delivery[]> {
      const deliveries = await this.#inner.receive(queue, options);
      return deliveries.map((d) => ({
        ...d,
        lockedUntil: d.lockedUntil,
        ack: async () => Promise.reject(failure()),
      }));
    }
    stats(): never {
      throw failure(); // synchronous
    }
    listDeadLetters = inner.listDeadLetters.bind(inner);
    redriveDeadLetters = inner.redriveDeadLetters.bind(inner);
    purgeDeadLetters = async () => Promise.reject(failure());
    close = inner.close.bind(inner);
  }
  return new Flaky() as unknown as Driver;
}

const receiveOptions = () => ({ max: 1, waitMs: 0, lockMs: 5_000, signal: new AbortController().signal });

describe('guardDriver', () => {
  it('wraps an untyped error of any call, sync or async, in a DriverError naming the operation', async () => {
    const driver = guardDriver(failing(() => new TypeError('vendor exploded')));
    const stats = await driver.stats('q').catch((e: unknown) => e);
    expect(stats).toBeInstanceOf(DriverError);
    expect(stats).toMatchObject({ provider: 'flaky', operation: 'stats' });
    expect((stats as Error).cause).toBeInstanceOf(TypeError);
    await expect(driver.purgeDeadLetters('q')).rejects.toBeInstanceOf(DriverError);
    // A delivery's calls too.
    await driver.send('q', [message]);
    const [delivery] = await driver.receive('q', receiveOptions());
    const ack = await delivery?.ack().catch((e: unknown) => e);
    expect(ack).toMatchObject({ code: 'ERR_DRIVER', operation: 'delivery.ack' });
    await driver.close();
  });

  it("applies the driver's classifier first, and passes queuekit errors through", async () => {
    const driver = guardDriver(
      failing(
        () => Object.assign(new Error('gone'), { code: 'ECONNRESET' }),
        (error) =>
          (error as { code?: string }).code === 'ECONNRESET'
            ? new BrokerUnavailableError('reset')
            : undefined,
      ),
    );
    await expect(driver.stats('q')).rejects.toBeInstanceOf(BrokerUnavailableError);
    const typed = guardDriver(failing(() => new LockLostError()));
    await expect(typed.stats('q')).rejects.toBeInstanceOf(LockLostError);
  });

  it('survives a classifier that throws or returns junk', async () => {
    const throwing = guardDriver(
      failing(
        () => new Error('x'),
        () => {
          throw new Error('classifier bug');
        },
      ),
    );
    await expect(throwing.stats('q')).rejects.toBeInstanceOf(DriverError);
    const junk = guardDriver(
      failing(
        () => new Error('x'),
        () => ({ code: 'ERR_LOCK_LOST' }) as unknown as QueuekitError,
      ),
    );
    await expect(junk.stats('q')).rejects.toBeInstanceOf(DriverError);
  });

  it('scrubs the secrets of the URL from what it wraps', async () => {
    const url = 'amqp://user:s3cr3t-pw@host';
    const driver = guardDriver(
      failing(() => new Error('auth failed for amqp://user:s3cr3t-pw@host')),
      {
        scrub: (error) => new Scrubber([url]).error(error),
      },
    );
    const error = (await driver.stats('q').catch((e: unknown) => e)) as Error;
    expect(error.message).not.toContain('s3cr3t-pw');
    expect((error.cause as Error).message).not.toContain('s3cr3t-pw');
  });

  it('reads everything else through: capabilities, getters over private fields, lockedUntil; guards once', async () => {
    const inner = failing(() => new Error('x'));
    const driver = guardDriver(inner);
    expect(driver.capabilities).toBe(inner.capabilities);
    expect((driver as unknown as { secretGetter: string }).secretGetter).toBe('memory');
    expect(guardDriver(driver)).toBe(driver);
    const memory = guardDriver(createMemoryDriver({ broker: new MemoryBroker() }));
    await memory.send('q', [message]);
    const [delivery] = await memory.receive('q', receiveOptions());
    const before = delivery?.lockedUntil ?? 0;
    expect(before).toBeGreaterThan(Date.now());
    await delivery?.extendLock?.(60_000);
    expect(delivery?.lockedUntil).toBeGreaterThan(before);
    await delivery?.ack();
    await expect(delivery?.ack()).rejects.toBeInstanceOf(LockLostError);
    await memory.close();
  });

  it('passes a kit delivery through as it is, and guards one whose call the driver replaced', async () => {
    const inner = createMemoryDriver({ broker: new MemoryBroker() });
    const kit = guardDriver(inner);
    await kit.send('q', [message, { ...message, id: 'm2' }]);
    const [plain] = await kit.receive('q', receiveOptions());
    expect(util.types.isProxy(plain)).toBe(false);
    await plain?.ack();
    const receive = inner.receive.bind(inner);
    inner.receive = async (queue, options) =>
      (await receive(queue, options)).map((d) =>
        Object.assign(d, { ack: async () => Promise.reject(new TypeError('replaced')) }),
      );
    const [replaced] = await guardDriver(inner).receive('q', receiveOptions());
    expect(util.types.isProxy(replaced)).toBe(true);
    await expect(replaced?.ack()).rejects.toMatchObject({ code: 'ERR_DRIVER', operation: 'delivery.ack' });
    await inner.close();
  });

  it('accepts contract versions 1 and 2 and refuses one it does not speak', () => {
    const memory = createMemoryDriver({ broker: new MemoryBroker() });
    const declaring = (apiVersion: number) =>
      Object.assign(Object.create(memory) as Driver, { apiVersion }) as Driver;
    expect(guardDriver(declaring(1)).apiVersion).toBe(1);
    expect(guardDriver(declaring(2)).apiVersion).toBe(2);
    expect(() => guardDriver(declaring(3))).toThrow(UnsupportedFeatureError);
  });
});
