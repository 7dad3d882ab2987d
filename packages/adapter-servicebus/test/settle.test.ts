/**
 * Settlements of several deliveries of one link in the same tick. rhea 3.0.5 (used by @azure/service-bus
 * 7.9.5 and by the test server) writes pending dispositions in ranges and merges the second delivery of a
 * range into the first one's outcome whatever its own outcome: a complete next to a dead-letter went out
 * as two dead-letters (a job that succeeded landed in the dead letters with the other job's reason and
 * attempts) or as two completes (the failed job vanished). Issue 12, "DLQ under load".
 */
import { randomUUID } from 'node:crypto';
import { until } from '@queuekit/conformance';
import { createQueue, type Delivery, type Queue, UnrecoverableError } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceBusDriver } from '../src/index.js';
import { deleteQueue, lockMs, makeDriver, serverCounts, target } from './helpers.js';

const names: string[] = [];
const drivers: ServiceBusDriver[] = [];
const queues: Queue<{ n: number }>[] = [];
afterEach(async () => {
  for (const queue of queues.splice(0)) await queue.close({ timeout: 0 });
  for (const driver of drivers.splice(0)) await driver.close();
  for (const name of names.splice(0)) await deleteQueue(name);
});
function queueName(): string {
  const name = `qk-sb-settle-${randomUUID().slice(0, 8)}`;
  names.push(name);
  return name;
}
const enc = (n: number) => new TextEncoder().encode(JSON.stringify({ n }));

/** `count` deliveries taken by one receive call (one link), in send order. */
async function receiveAll(
  driver: ServiceBusDriver,
  name: string,
  count: number,
  holdMs = 4 * lockMs,
): Promise<Delivery[]> {
  await driver.send(
    name,
    Array.from({ length: count }, (_, n) => ({ id: `job-${n}`, name: 'work', body: enc(n), headers: {} })),
  );
  const taken: Delivery[] = [];
  await until(`${count} deliveries`, 20_000, async () => {
    taken.push(
      ...(await driver.receive(name, {
        max: count - taken.length,
        waitMs: 1000,
        lockMs: holdMs,
        signal: new AbortController().signal,
      })),
    );
    return taken.length >= count;
  });
  return taken.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}

describe('settling several deliveries of one link in the same tick', () => {
  for (const order of ['complete, dead-letter', 'dead-letter, complete'] as const) {
    it(`${order}, alternating: each message gets its own outcome`, async () => {
      const name = queueName();
      const driver = makeDriver();
      drivers.push(driver);
      const deliveries = await receiveAll(driver, name, 6);
      const deadFirst = order === 'dead-letter, complete';
      const dead = (index: number) => (index % 2 === 0) === deadFirst;
      // Same tick, no await in between.
      const settled = deliveries.map((delivery, index) =>
        dead(index)
          ? delivery.deadLetter({
              reason: `reason-${delivery.id}`,
              error: `error of ${delivery.id}`,
              attempts: index + 1,
            })
          : delivery.ack(),
      );
      await Promise.all(settled);
      const listed = await until('dead letters', 10_000, async () => {
        const list = await driver.listDeadLetters(name, 100);
        return list.length >= 3 ? list : undefined;
      });
      const expected = deliveries.filter((_, index) => dead(index)).map((delivery) => delivery.id);
      expect(listed.map((letter) => letter.id).sort()).toEqual(expected.sort());
      for (const letter of listed) {
        expect(letter.reason).toBe(`reason-${letter.id}`);
        expect(letter.error).toBe(`error of ${letter.id}`);
      }
      if (target === 'test-server')
        expect(await serverCounts(name)).toMatchObject({ active: 0, deadLettered: 3 });
    });
  }

  it('two dead-letters with different reasons in one tick keep their own reason and attempts', async () => {
    const name = queueName();
    const driver = makeDriver();
    drivers.push(driver);
    const deliveries = await receiveAll(driver, name, 2);
    await Promise.all(
      deliveries.map((delivery, index) => delivery.deadLetter({ reason: `r${index}`, attempts: index + 1 })),
    );
    const listed = await until('dead letters', 10_000, async () => {
      const list = await driver.listDeadLetters(name, 100);
      return list.length >= 2 ? list : undefined;
    });
    const byId = new Map(listed.map((letter) => [letter.id, letter]));
    expect(byId.get(deliveries[0]?.id ?? '')).toMatchObject({ reason: 'r0', attempts: 1 });
    expect(byId.get(deliveries[1]?.id ?? '')).toMatchObject({ reason: 'r1', attempts: 2 });
  });

  it('a complete answered next to a lost lock: the complete succeeds, the lost one rejects with LockLostError', async () => {
    const name = queueName();
    const driver = makeDriver();
    drivers.push(driver);
    // Held for one queue lock only: the odd ones lapse, the even ones are extended.
    const deliveries = await receiveAll(driver, name, 4, lockMs);
    const keep = deliveries.filter((_, index) => index % 2 === 0);
    const started = Date.now();
    while (Date.now() - started < 2 * lockMs) {
      await Promise.all(keep.map((delivery) => delivery.extendLock?.(lockMs)));
      await new Promise((resolve) => setTimeout(resolve, lockMs / 4));
    }
    const results = await Promise.allSettled(deliveries.map((delivery) => delivery.ack()));
    expect(results.map((result) => result.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'rejected',
    ]);
  });
});

/** What `promise` settled with within `ms`, or 'pending'. */
async function within<T>(ms: number, promise: Promise<T>): Promise<'ok' | 'pending' | { error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => 'ok' as const,
        (error: unknown) => ({ error }),
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

it('deliveries of a link that closed settle at once, also after the next receive of their queue', async () => {
  // A link goes away under held deliveries: the SDK closes it when a drain goes unanswered for 200 ms, Service Bus
  // detaches idle links, a connection drops. The SDK (7.9.5) settles such a delivery through $management, unless
  // a receiver of the link's name is open again: the next receive on the same SDK receiver reopens the link under
  // that name, and then the settlement went out on the old delivery, unanswered (10 s timeouts, retried: ~45 s),
  // holding every later dead-letter of that receiver in its settlement lane.
  const name = queueName();
  const driver = makeDriver();
  drivers.push(driver);
  const [dead, done] = await receiveAll(driver, name, 2);
  type Closable = { close(): void; once(event: string, listener: () => void): void };
  if (!dead || !done) throw new Error('expected two deliveries');
  const link = (dead.raw as { delivery?: { link?: Closable & { session: Closable } } }).delivery?.link;
  if (!link) throw new Error('expected the SDK message to keep its link (SDK 7.9.x)');
  // As the SDK closes a link (rhea-promise: the link, then its session).
  await new Promise<void>((resolve) => {
    link.session.once('session_close', resolve);
    link.close();
    link.session.close();
  });
  await driver.send(name, [{ id: 'job-next', name: 'work', body: enc(9), headers: {} }]);
  const next = await until('the next delivery', 10_000, async () => {
    const [delivery] = await driver.receive(name, {
      max: 1,
      waitMs: 1000,
      lockMs: 4 * lockMs,
      signal: new AbortController().signal,
    });
    return delivery;
  });
  expect(next.id).toBe('job-next');
  expect(await within(3000, dead.deadLetter({ reason: 'poison', attempts: 1 }))).toBe('ok');
  expect(await within(3000, done.ack())).toBe('ok');
  expect(await within(3000, next.ack())).toBe('ok');
  const listed = await until('dead letters', 10_000, async () => {
    const list = await driver.listDeadLetters(name, 100);
    return list.length >= 1 ? list : undefined;
  });
  expect(listed.map((letter) => letter.id)).toEqual([dead.id]);
  if (target === 'test-server')
    expect(await serverCounts(name)).toMatchObject({ active: 0, locked: 0, deadLettered: 1 });
});

it('through the queue: a batch of jobs, every other one unrecoverable, settled in one tick: the DLQ holds exactly those', async () => {
  const name = queueName();
  const queue = createQueue<{ n: number }>({ name, driver: makeDriver(), ownsDriver: true });
  queues.push(queue);
  const errors: Error[] = [];
  queue.on('error', (error: Error) => errors.push(error));
  const ids = await queue.sendBatch(Array.from({ length: 16 }, (_, n) => ({ name: 'work', data: { n } })));
  const done = new Set<number>();
  queue.process(
    async (job) => {
      done.add(job.data.n);
      if (job.data.n % 2 === 0) throw new UnrecoverableError(`poison ${job.data.n}`);
    },
    { concurrency: 8 },
  );
  await until('every job handled', 30_000, () => done.size === 16);
  const expected = ids.filter((_, n) => n % 2 === 0).sort();
  const listed = await until('dead letters', 15_000, async () => {
    const list = await queue.deadLetters.list({ limit: 100 });
    return list.length >= expected.length ? list : undefined;
  });
  expect(listed.map((record) => record.id).sort()).toEqual(expected);
  for (const record of listed) expect(record.reason).toBe('unrecoverable');
  if (target === 'test-server')
    await until('queue empty', 3 * lockMs, async () => (await serverCounts(name))?.active === 0);
  expect(errors).toEqual([]);
});
