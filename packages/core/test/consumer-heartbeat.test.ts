import { describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue, type Delivery, type Driver, MemoryBroker } from '../src/index.js';
import { until } from './helpers.js';

const LOCK_MS = 600;

/** Wrap `receive` of a memory driver: `change` may hold or alter each delivery before the core sees it. */
function wrapDeliveries(inner: Driver, change: (d: Delivery) => Promise<Delivery> | Delivery): Driver {
  return new Proxy(inner, {
    get(target, key, receiver) {
      if (key !== 'receive') return Reflect.get(target, key, receiver);
      return async (...args: Parameters<Driver['receive']>) =>
        Promise.all((await target.receive(...args)).map(change));
    },
  });
}

async function runOne(driver: Driver, name: string, handler: () => Promise<void>) {
  const queue = createQueue({ name, driver, ownsDriver: true });
  const errors: Error[] = [];
  let completed = 0;
  let runs = 0;
  let aborted = false;
  queue.on('error', (error) => errors.push(error));
  queue.on('completed', () => completed++);
  queue.process(
    async (_job, ctx) => {
      runs++;
      await handler();
      aborted = ctx.signal.aborted;
    },
    { lockDuration: LOCK_MS },
  );
  await queue.send('x', null);
  await until(() => completed + errors.length > 0, 'the job to settle');
  const metrics = await queue.metrics();
  await queue.close();
  return { errors, completed, runs, aborted, locksLost: metrics.locksLost };
}

/** Poll until `ms` have passed (the handler's "work"); polling keeps timers of the core running. */
const busyFor = async (ms: number): Promise<void> => {
  const end = Date.now() + ms;
  await until(() => Date.now() >= end, 'the work', ms + 10_000);
};

describe('the heartbeat', () => {
  it('renews from when the lock was taken, not from handler start (deliveries handed out late)', async () => {
    const broker = new MemoryBroker();
    // Like a driver that buffers prefetched messages: the delivery reaches the core with 1/4 of its lock left.
    const driver = wrapDeliveries(createMemoryDriver({ broker }), async (d) => {
      await until(() => (d.lockedUntil ?? 0) - Date.now() <= LOCK_MS / 4, 'the lock to be mostly used');
      return d;
    });
    const got = await runOne(driver, 'late', () => busyFor(LOCK_MS * 1.5));
    expect(got).toMatchObject({ errors: [], completed: 1, runs: 1, aborted: false, locksLost: 0 });
  });

  it('keeps renewing while the job is being settled', async () => {
    const broker = new MemoryBroker();
    // A slow settlement: the ack reaches the broker only after two lock durations.
    const driver = wrapDeliveries(createMemoryDriver({ broker }), (d) => {
      const ack = d.ack.bind(d);
      return Object.assign(d, {
        ackWith: undefined,
        ack: async (result?: unknown) => {
          await busyFor(LOCK_MS * 2);
          await ack(result);
        },
      });
    });
    const got = await runOne(driver, 'slow-ack', async () => undefined);
    expect(got).toMatchObject({ errors: [], completed: 1, runs: 1, locksLost: 0 });
    expect(broker.counts('slow-ack')).toMatchObject({ waiting: 0, active: 0, delayed: 0 });
  });
});
