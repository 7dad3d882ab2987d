import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ReceivedMessage } from '../../src/driver.js';
import { createDelivery, type DeliveryOperations, Scrubber } from '../../src/driver-kit/index.js';
import {
  BrokerUnavailableError,
  DriverError,
  LockLostError,
  QueueClosedError,
  type QueuekitError,
} from '../../src/errors.js';

const message: ReceivedMessage = {
  id: 'j1',
  name: 'job',
  body: new Uint8Array([1, 2]),
  headers: { 'qk-attempt': '1' },
  deliveryCount: 1,
  raw: { vendor: true },
};

/** A delivery on a hand-driven clock whose broker calls are counted. */
function setup(
  overrides: Partial<DeliveryOperations> = {},
  classify?: (e: unknown) => QueuekitError | undefined,
) {
  let clock = 1_000;
  const calls: string[] = [];
  let closed = false;
  const operations: DeliveryOperations = {
    ack: async () => {
      calls.push('ack');
    },
    deadLetter: async () => {
      calls.push('deadLetter');
    },
    release: async () => {
      calls.push('release');
    },
    defer: async () => {
      calls.push('defer');
    },
    extendLock: async () => {
      calls.push('extendLock');
    },
    ...overrides,
  };
  const delivery = createDelivery({
    message,
    lockedUntil: 2_000,
    operations,
    provider: 'test',
    classify,
    isClosed: () => closed,
    now: () => clock,
  });
  return {
    delivery,
    calls,
    advance: (ms: number) => {
      clock += ms;
    },
    close: () => {
      closed = true;
    },
  };
}

/** A promise settled by hand. */
function deferred() {
  let resolve = () => {};
  let reject: (error: unknown) => void = () => {};
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** `promise`, once `name` is counted in `calls` (as `setup` counts its broker calls). */
function called<T>(calls: string[], name: string, promise: Promise<T>): Promise<T> {
  calls.push(name);
  return promise;
}

/** A delivery on the real clocks (no `now`), locked for a minute. */
function wallClock(overrides: Partial<DeliveryOperations> = {}) {
  const calls: string[] = [];
  const delivery = createDelivery({
    message,
    lockedUntil: Date.now() + 60_000,
    provider: 'test',
    operations: {
      ack: async () => {
        calls.push('ack');
      },
      deadLetter: async () => {},
      ...overrides,
    },
  });
  return { delivery, calls };
}

describe('createDelivery', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('carries the received message through', () => {
    const { delivery } = setup();
    expect(delivery).toMatchObject({ id: 'j1', name: 'job', deliveryCount: 1, raw: { vendor: true } });
    expect(delivery.lockedUntil).toBe(2_000);
  });

  it('lets exactly one settlement win: a second one is LockLostError and never reaches the broker', async () => {
    const { delivery, calls } = setup();
    await delivery.ack();
    await expect(delivery.ack()).rejects.toBeInstanceOf(LockLostError);
    await expect(delivery.deadLetter({ reason: 'x' })).rejects.toBeInstanceOf(LockLostError);
    await expect(delivery.release?.(10)).rejects.toBeInstanceOf(LockLostError);
    await expect(delivery.extendLock?.(10)).rejects.toBeInstanceOf(LockLostError);
    expect(calls).toEqual(['ack']);
  });

  it('refuses a settlement racing one in flight', async () => {
    let finish = () => {};
    const { delivery, calls } = setup({
      ack: () =>
        new Promise<void>((resolve) => {
          calls.push('ack');
          finish = resolve;
        }),
    });
    const first = delivery.ack();
    await expect(delivery.deadLetter({ reason: 'x' })).rejects.toBeInstanceOf(LockLostError);
    finish();
    await first;
    expect(calls).toEqual(['ack']);
  });

  it('refuses to settle once the lock ran out locally, without calling the broker', async () => {
    const { delivery, calls, advance } = setup();
    advance(1_000);
    const error = await delivery.ack().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockLostError);
    expect((error as Error).message).toMatch(/lock ran out/);
    expect(calls).toEqual([]);
  });

  it('moves lockedUntil on renewal, from the broker when it tells, else from the call start', async () => {
    let answer: number | undefined;
    const { delivery, advance } = setup({ extendLock: async () => answer });
    advance(500);
    await delivery.extendLock?.(3_000);
    expect(delivery.lockedUntil).toBe(1_500 + 3_000);
    answer = 9_999;
    await delivery.extendLock?.(3_000);
    expect(delivery.lockedUntil).toBe(9_999);
    advance(4_000); // past the first lock end, within the renewed one
    await delivery.ack();
  });

  it('keeps the lock on the monotonic clock: a wall clock jumping forward neither expires it nor moves it', async () => {
    const { delivery, calls } = wallClock();
    const wall = Date.now();
    vi.spyOn(Date, 'now').mockReturnValue(wall + 3_600_000);
    // Reported against the wall clock of the moment it is read: still about a minute left.
    expect(Number(delivery.lockedUntil) - (wall + 3_600_000)).toBeGreaterThan(59_000);
    expect(Number(delivery.lockedUntil) - (wall + 3_600_000)).toBeLessThanOrEqual(60_000);
    await delivery.ack();
    expect(calls).toEqual(['ack']);
  });

  it('a wall clock jumping back does not extend the lock: it runs out on the monotonic clock', async () => {
    const { delivery, calls } = wallClock();
    const wall = Date.now();
    const mono = performance.now();
    vi.spyOn(Date, 'now').mockReturnValue(wall - 3_600_000);
    vi.spyOn(performance, 'now').mockReturnValue(mono + 61_000);
    expect(delivery.lockedUntil).toBeLessThanOrEqual(wall - 3_600_000);
    const error = await delivery.ack().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockLostError);
    expect((error as Error).message).toMatch(/lock ran out/);
    expect(calls).toEqual([]);
  });

  it('takes the lock end a renewal reports as epoch ms, kept on the monotonic clock', async () => {
    const { delivery } = wallClock({ extendLock: async () => Date.now() + 120_000 });
    await delivery.extendLock?.(120_000);
    const wall = Date.now();
    expect(Number(delivery.lockedUntil) - wall).toBeGreaterThan(119_000);
    // lockedUntil is whole ms rounded up from the monotonic clock: up to 1 ms past the reported end.
    expect(Number(delivery.lockedUntil) - wall).toBeLessThanOrEqual(120_001);
    const mono = performance.now();
    vi.spyOn(Date, 'now').mockReturnValue(wall + 3_600_000);
    vi.spyOn(performance, 'now').mockReturnValue(mono + 90_000); // past the first lock, within the renewed one
    await delivery.ack();
  });

  it('reports lockedUntil in whole ms, never before the end a renewal asked for', async () => {
    const { delivery } = wallClock({ extendLock: async () => undefined });
    for (let i = 0; i < 20; i++) {
      const calledAt = Date.now();
      await delivery.extendLock?.(30_000);
      const reported = Number(delivery.lockedUntil);
      expect(Number.isInteger(reported)).toBe(true);
      expect(reported).toBeGreaterThanOrEqual(calledAt + 30_000);
    }
    await delivery.ack();
  });

  it('a renewal meeting a settlement in flight waits for it and resolves once it succeeded', async () => {
    const ack = deferred();
    const { delivery, calls } = setup({ ack: () => called(calls, 'ack', ack.promise) });
    const settled = delivery.ack();
    let renewed = false;
    const renewal = delivery.extendLock?.(1_000).then(() => {
      renewed = true;
    });
    await Promise.resolve();
    expect(renewed).toBe(false);
    ack.resolve();
    await settled;
    await renewal;
    expect(renewed).toBe(true);
    expect(calls).toEqual(['ack']);
    // Once settled, a renewal is refused as before.
    await expect(delivery.extendLock?.(1_000)).rejects.toBeInstanceOf(LockLostError);
  });

  it('a renewal meeting a settlement that fails without losing the lock goes on to the broker', async () => {
    const ack = deferred();
    const { delivery, calls } = setup({ ack: () => called(calls, 'ack', ack.promise) });
    const settled = delivery.ack().catch((e: unknown) => e);
    const renewal = delivery.extendLock?.(3_000);
    ack.reject(new BrokerUnavailableError('blip'));
    expect(await settled).toBeInstanceOf(BrokerUnavailableError);
    await renewal;
    expect(calls).toEqual(['ack', 'extendLock']);
    expect(delivery.lockedUntil).toBe(1_000 + 3_000);
  });

  it('a renewal meeting a settlement that lost the lock rejects with LockLostError', async () => {
    const ack = deferred();
    const { delivery, calls } = setup({ ack: () => called(calls, 'ack', ack.promise) });
    const settled = delivery.ack().catch((e: unknown) => e);
    const renewal = delivery.extendLock?.(3_000);
    ack.reject(new LockLostError('gone'));
    expect(await settled).toBeInstanceOf(LockLostError);
    await expect(renewal).rejects.toBeInstanceOf(LockLostError);
    expect(calls).toEqual(['ack']);
  });

  it('a renewal whose broker call a settlement overtook resolves as the settlement does', async () => {
    const extend = deferred();
    const { delivery, calls } = setup({ extendLock: () => called(calls, 'extendLock', extend.promise) });
    const renewal = delivery.extendLock?.(3_000);
    await delivery.ack();
    extend.reject(new LockLostError('released by the ack'));
    await renewal;
    expect(calls).toEqual(['extendLock', 'ack']);
    // Without a settlement meanwhile, the renewal's own error stands.
    const lone = setup({ extendLock: async () => Promise.reject(new BrokerUnavailableError('down')) });
    await expect(lone.delivery.extendLock?.(3_000)).rejects.toBeInstanceOf(BrokerUnavailableError);
  });

  it('maps every thrown driver error through the classifier, and wraps what it does not know', async () => {
    const vendor = Object.assign(new Error('ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const { delivery } = setup({ ack: async () => Promise.reject(vendor) }, (e) =>
      (e as { code?: string }).code === 'ECONNREFUSED'
        ? new BrokerUnavailableError('down', { cause: e })
        : undefined,
    );
    await expect(delivery.ack()).rejects.toBeInstanceOf(BrokerUnavailableError);
    const other = setup({ deadLetter: async () => Promise.reject(new TypeError('boom')) });
    const error = await other.delivery.deadLetter({ reason: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverError);
    expect(error).toMatchObject({ code: 'ERR_DRIVER', provider: 'test', operation: 'deadLetter' });
    expect((error as Error).cause).toBeInstanceOf(TypeError);
  });

  it('lets a settlement that failed without losing the lock be tried again', async () => {
    let failures = 1;
    const { delivery, calls } = setup({
      ack: async () => {
        calls.push('ack');
        if (failures-- > 0) throw new BrokerUnavailableError('blip');
      },
    });
    await expect(delivery.ack()).rejects.toBeInstanceOf(BrokerUnavailableError);
    await delivery.ack();
    expect(calls).toEqual(['ack', 'ack']);
  });

  it('a lock the broker says is lost stays lost, and lockedUntil drops to now', async () => {
    const { delivery } = setup({ release: async () => Promise.reject(new LockLostError()) });
    await expect(delivery.release?.(10)).rejects.toBeInstanceOf(LockLostError);
    expect(delivery.lockedUntil).toBe(1_000);
    await expect(delivery.ack()).rejects.toBeInstanceOf(LockLostError);
  });

  it('rejects every operation of a closed driver with QueueClosedError', async () => {
    const { delivery, close, calls } = setup();
    close();
    await expect(delivery.ack()).rejects.toBeInstanceOf(QueueClosedError);
    await expect(delivery.extendLock?.(10)).rejects.toBeInstanceOf(QueueClosedError);
    expect(calls).toEqual([]);
  });

  it('offers only the operations the driver has', () => {
    const delivery = createDelivery({
      message,
      lockedUntil: Date.now() + 1_000,
      provider: 'test',
      operations: { ack: async () => {}, deadLetter: async () => {} },
    });
    expect(delivery.release).toBeUndefined();
    expect(delivery.extendLock).toBeUndefined();
    expect(delivery.defer).toBeUndefined();
    expect(delivery.ackWith).toBeUndefined();
  });

  it('keeps one settle-once state across a spread copy and a destructured call; inspect shows none of it', async () => {
    const { delivery, calls } = setup();
    const { ack } = delivery;
    const copy = { ...delivery, lockedUntil: delivery.lockedUntil };
    expect(copy).toMatchObject({ id: 'j1', name: 'job', deliveryCount: 1 });
    await ack();
    await expect(copy.deadLetter({ reason: 'x' })).rejects.toBeInstanceOf(LockLostError);
    await expect(delivery.release?.(10)).rejects.toBeInstanceOf(LockLostError);
    expect(calls).toEqual(['ack']);
    const shown = inspect(delivery, { depth: 5 });
    expect(shown).toContain("id: 'j1'");
    expect(shown).not.toMatch(/operations|provider|settled/);
  });

  it('scrubs what it wraps with the scrub it is given', async () => {
    const url = 'amqp://u:hunter2-secret@host';
    const delivery = createDelivery({
      message,
      lockedUntil: Date.now() + 60_000,
      provider: 'test',
      scrub: (error) => new Scrubber([url]).error(error),
      operations: {
        ack: async () => Promise.reject(new Error(`refused by ${url}`)),
        deadLetter: async () => {},
      },
    });
    const error = (await delivery.ack().catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(DriverError);
    expect(`${error.message} ${(error.cause as Error).message}`).not.toContain('hunter2-secret');
  });
});
