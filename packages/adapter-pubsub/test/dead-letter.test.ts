import { createQueue, type Queue } from '@queuekit/core';
import { until } from '@queuekit/conformance';
import { afterEach, expect, it } from 'vitest';
import type { PubSubDriver } from '../src/index.js';
import { makeDriver, uniqueName } from './helpers.js';

const cleanup: { name: string; close: () => Promise<void> }[] = [];

afterEach(async () => {
  for (const { name, close } of cleanup.splice(0)) {
    await close();
    const admin = makeDriver();
    await admin.deleteQueue(name).finally(() => admin.close());
  }
});

it('the attempt count comes from deliveryAttempt, and the dead letter keeps reason, error and attempts', async () => {
  const name = uniqueName('qk-dl');
  const queue: Queue<{ v: number }> = createQueue({ name, driver: makeDriver(), ownsDriver: true });
  cleanup.push({ name, close: () => queue.close({ timeout: 1000 }) });
  const seen: { attempt: number; deliveryAttempt: number | null | undefined }[] = [];
  const dead = new Promise<{ reason: string; error?: string }>((resolve) =>
    queue.on('dead-lettered', resolve),
  );
  queue.process(async (job) => {
    seen.push({
      attempt: job.attempt,
      deliveryAttempt: (job.raw as { deliveryAttempt?: number }).deliveryAttempt,
    });
    throw new Error(`boom ${job.attempt}`);
  });
  const id = await queue.send('fragile', { v: 1 }, { maxAttempts: 4, backoff: { type: 'fixed', delay: 10 } });
  expect(await dead).toMatchObject({ reason: 'max-attempts', error: 'boom 4' });
  // Retries are in place (nack with a modified ack deadline): Pub/Sub's own count is the attempt.
  expect(seen).toEqual([1, 2, 3, 4].map((n) => ({ attempt: n, deliveryAttempt: n })));
  const [record] = await until('the dead letter', 15_000, async () => {
    const list = await queue.deadLetters.list();
    return list.length === 1 ? list : undefined;
  });
  expect(record).toMatchObject({
    id,
    name: 'fragile',
    data: { v: 1 },
    reason: 'max-attempts',
    error: 'boom 4',
    attempts: 4,
  });
  expect(record?.deadLetteredAt).toBeInstanceOf(Date);
});

it('the native dead-letter policy forwards a message never acknowledged, with its delivery count', async () => {
  const name = uniqueName('qk-dln');
  const driver: PubSubDriver = makeDriver({ maxDeliveryAttempts: 5 });
  cleanup.push({ name, close: () => driver.close() });
  await driver.send(name, [
    { id: 'poison-1', name: 'poison', body: new TextEncoder().encode('{}'), headers: { 'qk-attempt': '1' } },
  ]);
  const counts: number[] = [];
  const controller = new AbortController();
  // A consumer that fails this message every time: the driver hands it back each time (nack).
  // The policy forwards it once the next delivery would exceed 5 (the emulator does so on a pull).
  const [record] = await until('the natively dead-lettered message', 60_000, async () => {
    const [delivery] = await driver.receive(name, {
      max: 1,
      waitMs: 300,
      lockMs: 10_000,
      signal: controller.signal,
    });
    if (delivery) {
      counts.push(delivery.deliveryCount);
      await delivery.release?.(0);
    }
    const list = await driver.listDeadLetters(name, 10);
    return list.length === 1 ? list : undefined;
  });
  expect(counts).toEqual([1, 2, 3, 4, 5]);
  expect(record).toMatchObject({
    id: 'poison-1',
    name: 'poison',
    reason: 'max-delivery-attempts',
    deliveryCount: 5,
  });
  expect(record?.error).toContain('5 times');
  // Nothing is left in the queue itself.
  expect(
    await driver.receive(name, { max: 1, waitMs: 1000, lockMs: 10_000, signal: controller.signal }),
  ).toEqual([]);
  // Through the core: attempts = qk-attempt + deliveryCount - 1.
  const queue = createQueue({ name, driver });
  const [listed] = await queue.deadLetters.list();
  expect(listed).toMatchObject({ id: 'poison-1', reason: 'max-delivery-attempts', attempts: 5 });
  expect(await driver.purgeDeadLetters(name)).toBe(1);
  expect(await driver.listDeadLetters(name, 10)).toEqual([]);
});

it('redrive moves each dead letter once, even while a consumer dead-letters the moved jobs again', async () => {
  const name = uniqueName('qk-pingpong');
  const queue: Queue<{ i: number }> = createQueue({ name, driver: makeDriver(), ownsDriver: true });
  cleanup.push({ name, close: () => queue.close({ timeout: 1000 }) });
  queue.on('error', () => undefined);
  let deadCount = 0;
  queue.on('dead-lettered', () => deadCount++);
  await queue.sendBatch(
    Array.from({ length: 40 }, (_, i) => ({ name: 'fails', data: { i }, options: { maxAttempts: 1 } })),
  );
  queue.process(
    async () => {
      throw new Error('always fails');
    },
    { concurrency: 10 },
  );
  await until('40 dead letters', 60_000, () => deadCount >= 40, 50);
  expect(await queue.deadLetters.redrive()).toBe(40);
  await until('every redriven job dead-lettered again', 60_000, () => deadCount >= 80, 50);
});
