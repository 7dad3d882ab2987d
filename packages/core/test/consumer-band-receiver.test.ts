import { afterEach, describe, expect, it } from 'vitest';
import {
  createMemoryDriver,
  createQueue,
  type Delivery,
  LockLostError,
  type Queue,
  type ReceiveOptions,
} from '../src/index.js';
import { until } from './helpers.js';

/** One driver.receive call: its band queue, its wait, and whether it started before the send under test. */
interface Call {
  readonly queue: string;
  readonly waitMs: number;
  readonly beforeSend: boolean;
  open: boolean;
  got: string[];
}

/** A memory driver that pretends to lack native priority (the core emulates it with band queues), its receives recorded. */
function banded() {
  const driver = createMemoryDriver({ limitCapabilities: { priority: 'emulated' } });
  const calls: Call[] = [];
  let sent = false;
  const receive = driver.receive.bind(driver);
  driver.receive = async (queue: string, options: ReceiveOptions): Promise<Delivery[]> => {
    const call: Call = { queue, waitMs: options.waitMs, beforeSend: !sent, open: true, got: [] };
    calls.push(call);
    try {
      const deliveries = await receive(queue, options);
      call.got = deliveries.map((delivery) => delivery.id);
      return deliveries;
    } finally {
      call.open = false;
    }
  };
  return { driver, calls, markSent: () => (sent = true) };
}

const queues: Queue<unknown>[] = [];
afterEach(async () => {
  for (const queue of queues.splice(0)) await queue.close();
});

describe('receiving across priority bands', () => {
  it('hands an idle consumer a job on any band from the poll already waiting (no fixed wait for the lowest band)', async () => {
    const { driver, calls, markSent } = banded();
    const name = `bands-idle-${Date.now()}`;
    const queue = createQueue<{ p: number }>({ name, driver, ownsDriver: true, results: false });
    queues.push(queue as Queue<unknown>);
    const seen: number[] = [];
    // A poll that ran its whole length would hold the job for a minute: the test would time out.
    queue.process(async (job) => void seen.push(job.data.p), { pollInterval: 60_000 });
    await until(() => calls.some((call) => call.open && call.waitMs > 0), 'a long poll');
    markSent();
    const id = await queue.send('high', { p: 5 }, { priority: 5 });
    await until(() => seen.length === 1, 'the band-5 job');
    const from = calls.find((call) => call.got.includes(id));
    expect(from).toMatchObject({ queue: `${name}-p5`, beforeSend: true });
    expect(from?.waitMs).toBeGreaterThan(0);
    // The next idle turn polls band 5 again and leaves the other bands' polls running: one new poll, not ten.
    const polls = (band: string) => calls.filter((call) => call.queue === band && call.waitMs > 0);
    await until(() => polls(`${name}-p5`).length === 2, 'band 5 polled again');
    expect(polls(`${name}-p9`)).toHaveLength(1);
    expect(polls(name)).toHaveLength(1);
  });

  it('keeps priority order and the concurrency bound when several bands answer an idle consumer at once', async () => {
    const { driver, calls } = banded();
    const name = `bands-burst-${Date.now()}`;
    const queue = createQueue<{ p: number }>({ name, driver, ownsDriver: true, results: false });
    queues.push(queue as Queue<unknown>);
    const order: number[] = [];
    let running = 0;
    let most = 0;
    queue.process(
      async (job) => {
        most = Math.max(most, ++running);
        order.push(job.data.p);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
      },
      { concurrency: 1, pollInterval: 60_000 },
    );
    await until(() => calls.some((call) => call.open && call.waitMs > 0), 'a long poll');
    // One batch to every band: their polls answer in the same few ticks.
    await queue.sendBatch(
      [3, 7, 0, 9, 5].map((p) => ({ name: 'burst', data: { p }, options: { priority: p } })),
    );
    await until(() => order.length === 5, 'the five jobs');
    expect(most).toBe(1);
    // The first answer may be any band's; every job after it is the best one left.
    expect(order.slice(1)).toEqual([...order.slice(1)].sort((a, b) => b - a));
    expect([...order].sort()).toEqual([0, 3, 5, 7, 9]);
  });

  it('runs a job a band poll brought while the consumer was full, within the bound, also when it closes', async () => {
    const { driver, calls } = banded();
    const name = `bands-full-${Date.now()}`;
    const queue = createQueue<{ p: number }>({ name, driver, ownsDriver: true, results: false });
    const order: number[] = [];
    let running = 0;
    let most = 0;
    let release: (() => void) | undefined;
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    queue.process(
      async (job) => {
        most = Math.max(most, ++running);
        order.push(job.data.p);
        if (job.data.p === 3) await blocked;
        running--;
      },
      { concurrency: 1, pollInterval: 60_000 },
    );
    await until(() => calls.some((call) => call.open && call.waitMs > 0), 'a long poll');
    await queue.send('first', { p: 3 }, { priority: 3 });
    await until(() => order.length === 1, 'the first job');
    // Band 7's poll is still out while the only slot is busy: its job is kept, not started.
    await queue.send('kept', { p: 7 }, { priority: 7 });
    await until(
      () => calls.some((call) => call.queue === `${name}-p7` && call.got.length === 1),
      'the kept job',
    );
    expect(order).toEqual([3]);
    const closed = queue.close({ timeout: 5_000 });
    release?.();
    await closed;
    expect(order).toEqual([3, 7]);
    expect(most).toBe(1);
  });

  it('keeps renewing the lock of a job a band poll brought while close() waits for a slot for it', async () => {
    const { driver, calls } = banded();
    const name = `bands-close-kept-${Date.now()}`;
    const queue = createQueue<{ p: number }>({ name, driver, ownsDriver: true, results: false });
    queues.push(queue as Queue<unknown>);
    const runs: { p: number; attempt: number }[] = [];
    const completed: number[] = [];
    queue.on('completed', (job) => completed.push((job.data as { p: number }).p));
    let release: (() => void) | undefined;
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const lockDuration = 300;
    queue.process(
      async (job) => {
        runs.push({ p: job.data.p, attempt: job.attempt });
        if (job.data.p === 3) await blocked;
      },
      { concurrency: 1, pollInterval: 60_000, lockDuration },
    );
    await until(() => calls.some((call) => call.open && call.waitMs > 0), 'a long poll');
    await queue.send('first', { p: 3 }, { priority: 3 });
    await until(() => runs.length === 1, 'the first job');
    await queue.send('kept', { p: 7 }, { priority: 7 });
    await until(
      () => calls.some((call) => call.queue === `${name}-p7` && call.got.length === 1),
      'the kept job',
    );
    // close() stops the loop; the kept job waits for the busy slot for several lock spans.
    const closed = queue.close({ timeout: 10_000 });
    const closingAt = Date.now();
    await until(() => Date.now() - closingAt > 4 * lockDuration, 'four lock spans', 5_000);
    release?.();
    await closed;
    expect(runs).toEqual([
      { p: 3, attempt: 1 },
      { p: 7, attempt: 1 },
    ]);
    // Its lock was still held when it ran: it settled as completed, no lock was lost.
    expect(completed.sort()).toEqual([3, 7]);
    expect((await queue.metrics()).locksLost).toBe(0);
  });

  it('keeps the lock of a job a band poll brought while the consumer was full, however long it waits', async () => {
    const { driver, calls } = banded();
    const name = `bands-kept-lock-${Date.now()}`;
    const queue = createQueue<{ p: number }>({ name, driver, ownsDriver: true, results: false });
    queues.push(queue as Queue<unknown>);
    const runs: { p: number; attempt: number }[] = [];
    const lost: unknown[] = [];
    queue.on('error', (error) => lost.push(error));
    let release: (() => void) | undefined;
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const lockDuration = 300;
    queue.process(
      async (job, ctx) => {
        runs.push({ p: job.data.p, attempt: job.attempt });
        if (job.data.p === 3) await blocked;
        expect(ctx.signal.aborted).toBe(false);
      },
      { concurrency: 1, pollInterval: 60_000, lockDuration },
    );
    await until(() => calls.some((call) => call.open && call.waitMs > 0), 'a long poll');
    await queue.send('first', { p: 3 }, { priority: 3 });
    await until(() => runs.length === 1, 'the first job');
    await queue.send('kept', { p: 7 }, { priority: 7 });
    await until(
      () => calls.some((call) => call.queue === `${name}-p7` && call.got.length === 1),
      'the kept job',
    );
    // The slot stays busy for several lock spans while the band-7 job is kept.
    const keptAt = Date.now();
    await until(() => Date.now() - keptAt > 4 * lockDuration, 'four lock spans', 5_000);
    release?.();
    await until(() => runs.length >= 2, 'the kept job to run');
    await queue.close({ timeout: 5_000 });
    expect(runs).toEqual([
      { p: 3, attempt: 1 },
      { p: 7, attempt: 1 },
    ]);
    expect(lost).toEqual([]);
  });

  it('never starts a kept job whose lock renewal failed: the broker redelivers it, as attempt 2', async () => {
    const { driver, calls } = banded();
    const name = `bands-kept-lost-${Date.now()}`;
    const receive = driver.receive.bind(driver);
    const refused: string[] = [];
    // The band-7 job's first delivery loses its lock while kept: every renewal of it is refused.
    driver.receive = async (queue, options) =>
      (await receive(queue, options)).map((delivery) =>
        queue === `${name}-p7` && delivery.deliveryCount === 1
          ? new Proxy(delivery, {
              get(target, key) {
                if (key === 'extendLock')
                  return async () => {
                    refused.push(target.id);
                    throw new LockLostError('taken by another consumer');
                  };
                const value: unknown = Reflect.get(target, key, target);
                return typeof value === 'function' ? value.bind(target) : value;
              },
            })
          : delivery,
      );
    const queue = createQueue<{ p: number }>({ name, driver, ownsDriver: true, results: false });
    queues.push(queue as Queue<unknown>);
    const runs: { p: number; attempt: number }[] = [];
    let release: (() => void) | undefined;
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    queue.process(
      async (job) => {
        runs.push({ p: job.data.p, attempt: job.attempt });
        if (job.data.p === 3) await blocked;
      },
      { concurrency: 1, pollInterval: 60_000, lockDuration: 300 },
    );
    await until(() => calls.some((call) => call.open && call.waitMs > 0), 'a long poll');
    await queue.send('first', { p: 3 }, { priority: 3 });
    await until(() => runs.length === 1, 'the first job');
    await queue.send('kept', { p: 7 }, { priority: 7 });
    await until(() => refused.length > 0, 'the kept job renewal refused');
    release?.();
    await until(() => runs.length >= 2, 'the band-7 job again');
    expect(runs).toEqual([
      { p: 3, attempt: 1 },
      { p: 7, attempt: 2 },
    ]);
    // Given up once: no renewal of it after the first refusal, and counted as a lost lock.
    expect(refused).toHaveLength(1);
    expect((await queue.metrics()).locksLost).toBe(1);
  });

  it('gives no "possible memory leak" warning while every band long-polls with a driver that listens to the signal twice', async () => {
    const { driver, calls } = banded();
    const name = `bands-listeners-${Date.now()}`;
    const receive = driver.receive.bind(driver);
    // As an SDK call does on top of the driver's own link: one more abort listener per receive, removed after.
    driver.receive = async (queue, options) => {
      const onAbort = () => undefined;
      options.signal?.addEventListener('abort', onAbort);
      try {
        return await receive(queue, options);
      } finally {
        options.signal?.removeEventListener('abort', onAbort);
      }
    };
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const queue = createQueue({ name, driver, ownsDriver: true, results: false });
      queues.push(queue as Queue<unknown>);
      queue.process(async () => undefined, { pollInterval: 60_000 });
      await until(() => calls.filter((call) => call.open && call.waitMs > 0).length === 10, 'ten long polls');
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('gives no "possible memory leak" warning for twelve long polls on one driver', async () => {
    const driver = createMemoryDriver();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    // Each caller its own signal: the driver's own close signal is the one all twelve listen to.
    const stops = Array.from({ length: 12 }, () => new AbortController());
    try {
      const polls = stops.map(({ signal }, i) =>
        driver.receive(`listeners-${i}`, { max: 1, waitMs: 60_000, lockMs: 1_000, signal }),
      );
      await new Promise((resolve) => setImmediate(resolve));
      for (const stop of stops) stop.abort();
      expect(await Promise.all(polls)).toEqual(Array.from({ length: 12 }, () => []));
      expect(warnings.filter((name) => name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await driver.close();
    }
  });

  it('reports a failed band poll and polls that band again', async () => {
    const { driver, calls } = banded();
    const name = `bands-fail-${Date.now()}`;
    const receive = driver.receive.bind(driver);
    let failed = false;
    driver.receive = async (queue, options) => {
      if (!failed && queue === `${name}-p7` && options.waitMs > 0) {
        failed = true;
        throw new Error('band 7 poll failed');
      }
      return receive(queue, options);
    };
    const queue = createQueue<{ p: number }>({ name, driver, ownsDriver: true, results: false });
    queues.push(queue as Queue<unknown>);
    const errors: Error[] = [];
    queue.on('error', (error) => errors.push(error));
    const seen: number[] = [];
    queue.process(async (job) => void seen.push(job.data.p), { pollInterval: 60_000 });
    await until(() => errors.length > 0, 'the poll failure reported');
    expect(errors[0]?.message).toContain('band 7 poll failed');
    await until(() => calls.some((call) => call.open && call.queue === `${name}-p7`), 'band 7 polled again');
    await queue.send('after', { p: 7 }, { priority: 7 });
    await until(() => seen.length === 1, 'the band-7 job');
    expect(seen).toEqual([7]);
  });
});
