import { v1 } from '@google-cloud/pubsub';
import { until } from '@queuekit/conformance';
import type { Delivery } from '@queuekit/core';
import { afterEach, expect, it, vi } from 'vitest';
import type { PubSubDriver } from '../src/index.js';
import { queueResources } from '../src/wire.js';
import { makeDriver, pubsubEnv, uniqueName } from './helpers.js';

// How a receive pulls the queue's two subscriptions (unkeyed and ordered), issue 16.

const utf8 = (text: string) => new TextEncoder().encode(text);
const signal = new AbortController().signal;
const made: { driver: PubSubDriver; queue: string }[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const { driver, queue } of made.splice(0)) {
    await driver.deleteQueue(queue).catch(() => undefined);
    await driver.close();
  }
});

function fresh(options: Parameters<typeof makeDriver>[0] = {}): { driver: PubSubDriver; queue: string } {
  const driver = makeDriver(options);
  const queue = uniqueName('qk-plan');
  made.push({ driver, queue });
  return { driver, queue };
}

type PullRequest = { subscription?: string | null; maxMessages?: number | null };

/** Watch every pull: which subscription, how many asked, and how many were in flight at once. */
function watchPulls() {
  const original = v1.SubscriberClient.prototype.pull;
  const seen = { asked: [] as { subscription: string; max: number }[], inflight: 0, most: 0 };
  vi.spyOn(v1.SubscriberClient.prototype, 'pull').mockImplementation(function (
    this: v1.SubscriberClient,
    request: PullRequest,
    options: unknown,
  ) {
    seen.asked.push({ subscription: request.subscription ?? '', max: request.maxMessages ?? 0 });
    seen.inflight++;
    seen.most = Math.max(seen.most, seen.inflight);
    const call = original as unknown as (
      this: v1.SubscriberClient,
      r: PullRequest,
      o: unknown,
    ) => Promise<unknown>;
    return call.call(this, request, options).finally(() => seen.inflight--);
  } as unknown as typeof original);
  return seen;
}

/** Nacks (modifyAckDeadline to 0) the driver sends. */
function watchNacks() {
  const original = v1.SubscriberClient.prototype.modifyAckDeadline;
  const nacked: string[] = [];
  vi.spyOn(v1.SubscriberClient.prototype, 'modifyAckDeadline').mockImplementation(function (
    this: v1.SubscriberClient,
    request: { ackIds?: string[] | null; ackDeadlineSeconds?: number | null },
    options: unknown,
  ) {
    if (request.ackDeadlineSeconds === 0) nacked.push(...(request.ackIds ?? []));
    const call = original as unknown as (
      this: v1.SubscriberClient,
      r: unknown,
      o: unknown,
    ) => Promise<unknown>;
    return call.call(this, request, options);
  } as unknown as typeof original);
  return nacked;
}

it('a receive of an empty queue pulls both subscriptions at once: one round trip, not two', async () => {
  const { driver, queue } = fresh();
  await driver.stats(queue);
  const names = queueResources(pubsubEnv().projectId, '{queue}', '{topic}.qk', queue);
  const seen = watchPulls();
  for (let i = 0; i < 3; i++)
    expect(await driver.receive(queue, { max: 10, waitMs: 0, lockMs: 10_000, signal })).toEqual([]);
  // Before: one pull after the other (the second once the first came back empty), never two in flight.
  expect(seen.most).toBe(2);
  expect(seen.asked).toHaveLength(6);
  expect(seen.asked.filter((a) => a.subscription === names.subscription).map((a) => a.max)).toEqual([
    10, 10, 10,
  ]);
  expect(seen.asked.filter((a) => a.subscription === names.orderedSubscription).map((a) => a.max)).toEqual([
    1, 1, 1,
  ]);
});

it('both subscriptions pulled at once never hand over more than max: the extra one comes back, counted once', async () => {
  // A fresh driver knows neither subscription as warm, so its first receive pulls both at once.
  let overflowed = false;
  for (let round = 0; round < 5 && !overflowed; round++) {
    const { driver, queue } = fresh();
    const unkeyed = Array.from({ length: 20 }, (_, i) => ({
      id: `u${i}`,
      name: 'n',
      body: utf8('{}'),
      headers: {},
    }));
    await driver.send(queue, [
      ...unkeyed,
      { id: 'k', name: 'n', body: utf8('{}'), headers: {}, orderingKey: 'key' },
    ]);
    const nacked = watchNacks();
    const got: Delivery[] = [];
    let largest = 0;
    await until('every message', 60_000, async () => {
      const batch = await driver.receive(queue, { max: 2, waitMs: 1000, lockMs: 10_000, signal });
      largest = Math.max(largest, batch.length);
      for (const delivery of batch) {
        got.push(delivery);
        await delivery.ack();
      }
      return got.length >= 21 ? true : undefined;
    });
    expect(largest).toBeLessThanOrEqual(2);
    expect(got.map((d) => d.id).sort()).toEqual([...unkeyed.map((m) => m.id), 'k'].sort());
    // The message handed back never reached the core: its redelivery is not counted as a second attempt.
    for (const delivery of got) expect(delivery.deliveryCount).toBe(1);
    overflowed = nacked.length > 0;
    vi.restoreAllMocks();
  }
  expect(overflowed).toBe(true);
});

it('a backlog on the unkeyed subscription does not hold back a keyed message', async () => {
  const { driver, queue } = fresh({ pollIntervalMs: 1 });
  const unkeyed = Array.from({ length: 200 }, (_, i) => ({
    id: `u${i}`,
    name: 'n',
    body: utf8('{}'),
    headers: {},
  }));
  await driver.send(queue, unkeyed);
  // The unkeyed subscription is warm once a receive brought its messages.
  const first = await until('the first unkeyed messages', 30_000, async () => {
    const batch = await driver.receive(queue, { max: 5, waitMs: 1000, lockMs: 10_000, signal });
    return batch.length > 0 ? batch : undefined;
  });
  await Promise.all(first.map((delivery) => delivery.ack()));
  await driver.send(queue, [{ id: 'k', name: 'n', body: utf8('{}'), headers: {}, orderingKey: 'key' }]);
  let before = 0;
  let keyed = false;
  await until('the keyed message', 60_000, async () => {
    const batch = await driver.receive(queue, { max: 5, waitMs: 1000, lockMs: 10_000, signal });
    for (const delivery of batch) {
      if (delivery.id === 'k') keyed = true;
      else if (!keyed) before++;
      await delivery.ack();
    }
    return keyed ? true : undefined;
  });
  // Well before the 195 unkeyed ones left were all served.
  expect(before).toBeLessThan(100);
});
