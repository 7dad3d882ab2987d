import { describe, expect, it } from 'vitest';
import {
  createMemoryDriver,
  createQueue,
  type Delivery,
  type Driver,
  LockLostError,
  MemoryBroker,
} from '../src/index.js';
import type { StoredMessage } from '../src/memory/broker.js';
import { until } from './helpers.js';

/** Wait (polling, bounded) until the memory broker's lock on `raw` has run out. */
const lockExpired = (raw: unknown) =>
  until(() => Date.now() > (raw as StoredMessage).lockedUntil + 5, 'the lock to run out');

/** A driver whose deliveries hide `lockedUntil` and whose `extendLock` always fails once the lock ran out. */
function withoutLockedUntil(inner: Driver): Driver {
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (key !== 'receive') return Reflect.get(target, key, receiver);
      return async (...args: Parameters<Driver['receive']>) => {
        const got = await target.receive(...args);
        return got.map((d): Delivery => {
          const { lockedUntil: _hidden, ...rest } = Object.getOwnPropertyDescriptors(d);
          return Object.defineProperties({}, rest) as Delivery;
        });
      };
    },
  });
}

async function retryAfterLostLock(driver: Driver, broker: MemoryBroker, name: string) {
  const queue = createQueue({ name, driver, ownsDriver: true });
  const attempts: number[] = [];
  const errors: Error[] = [];
  queue.on('error', (error) => errors.push(error));
  queue.process(
    async (job) => {
      attempts.push(job.attempt);
      if (job.attempt === 1) {
        await lockExpired(job.raw);
        throw new Error('failed after its lock ran out');
      }
    },
    { lockDuration: 100 },
  );
  // RetryAfterError and long backoffs always re-send a copy; a fixed 2 s backoff above the hop limit does too.
  await queue.send('x', null, { backoff: { type: 'fixed', delay: 20 } });
  await until(() => {
    const c = broker.counts(name);
    return attempts.length >= 2 && c.waiting + c.active + c.delayed === 0;
  }, 'every copy to be processed');
  await queue.close();
  return { attempts, errors };
}

describe('a retry after a lost lock', () => {
  it('sends no copy when lockedUntil says the lock is gone: one further delivery only', async () => {
    const broker = new MemoryBroker();
    const driver = createMemoryDriver({ broker, limitCapabilities: { lockRenewal: false } });
    // No in-place release: the core must re-send a copy for the retry.
    const noRelease = new Proxy(driver, {
      get(target, key, receiver) {
        if (key !== 'receive') return Reflect.get(target, key, receiver);
        return async (...args: Parameters<Driver['receive']>) =>
          (await target.receive(...args)).map((d) => Object.assign(d, { release: undefined }));
      },
    });
    const { attempts } = await retryAfterLostLock(noRelease, broker, 'lost-a');
    expect(attempts).toEqual([1, 2]);
  });

  it('sends no copy when a renewal before the copy fails (no lockedUntil)', async () => {
    const broker = new MemoryBroker();
    const inner = createMemoryDriver({ broker });
    let renewalsFail = false;
    const driver = withoutLockedUntil(
      new Proxy(inner, {
        get(target, key, receiver) {
          if (key !== 'receive') return Reflect.get(target, key, receiver);
          return async (...args: Parameters<Driver['receive']>) =>
            (await target.receive(...args)).map((d) => {
              const extend = d.extendLock?.bind(d);
              return Object.assign(d, {
                release: undefined,
                extendLock: async (ms: number) => {
                  if (renewalsFail) throw new LockLostError();
                  await extend?.(ms);
                },
              });
            });
        },
      }),
    );
    const queue = createQueue({ name: 'lost-b', driver, ownsDriver: true });
    const attempts: number[] = [];
    queue.on('error', () => undefined);
    queue.process(
      async (job) => {
        attempts.push(job.attempt);
        if (job.attempt === 1) {
          renewalsFail = true;
          await lockExpired(job.raw);
          throw new Error('failed after its lock ran out');
        }
        renewalsFail = false;
      },
      { lockDuration: 100 },
    );
    await queue.send('x', null, { backoff: { type: 'fixed', delay: 20 } });
    await until(() => {
      const c = broker.counts('lost-b');
      return attempts.length >= 2 && c.waiting + c.active + c.delayed === 0;
    }, 'every copy to be processed');
    await queue.close();
    expect(attempts).toEqual([1, 2]);
  });

  it('reports an ack refused after a copy was sent (error event, locksLost counted)', async () => {
    const broker = new MemoryBroker();
    const inner = createMemoryDriver({ broker, limitCapabilities: { lockRenewal: false } });
    // The lock looks held when the copy is sent, but the broker refuses the ack.
    const driver = new Proxy(inner, {
      get(target, key, receiver) {
        if (key !== 'receive') return Reflect.get(target, key, receiver);
        return async (...args: Parameters<Driver['receive']>) =>
          (await target.receive(...args)).map((d) =>
            Object.assign(d, {
              release: undefined,
              ackWith: undefined,
              ack: async () => {
                throw new LockLostError();
              },
            }),
          );
      },
    });
    const queue = createQueue({ name: 'lost-c', driver, ownsDriver: true });
    const errors: Error[] = [];
    queue.on('error', (error) => errors.push(error));
    let runs = 0;
    queue.process(async () => {
      runs++;
      if (runs === 1) throw new Error('fail once');
    });
    await queue.send('x', null, { backoff: { type: 'fixed', delay: 20 } });
    await until(() => errors.some((e) => e instanceof LockLostError), 'the refused ack to be reported');
    expect((await queue.metrics()).locksLost).toBeGreaterThanOrEqual(1);
    await queue.close({ timeout: 50 });
  });

  it('with atomic follow-ups, a copy refused with the ack leaves neither (one further delivery only)', async () => {
    const broker = new MemoryBroker();
    // No renewal and no lockedUntil: the core cannot tell the lock is gone before settling.
    const driver = withoutLockedUntil(
      new Proxy(createMemoryDriver({ broker, limitCapabilities: { lockRenewal: false } }), {
        get(target, key, receiver) {
          if (key !== 'receive') return Reflect.get(target, key, receiver);
          return async (...args: Parameters<Driver['receive']>) =>
            (await target.receive(...args)).map((d) => Object.assign(d, { release: undefined }));
        },
      }),
    );
    const { attempts, errors } = await retryAfterLostLock(driver, broker, 'lost-d');
    expect(attempts).toEqual([1, 2]);
    expect(errors).toEqual([]);
  });
});
