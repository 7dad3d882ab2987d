/**
 * Driver contract additions: the broker's delivery count is exact, the header names the driver interprets
 * are reserved, `Delivery.lockedUntil` follows renewals, and dead-letter texts fit the broker's limits.
 */
import { randomUUID } from 'node:crypto';
import { until } from '@queuekit/conformance';
import { guardDriver } from '@queuekit/core/driver-kit';
import { ConfigError, createQueue, type Delivery, LockLostError } from '@queuekit/core';
import { getEventListeners } from 'node:events';
import { types } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ServiceBusDriver } from '../src/index.js';
import { deleteQueue, lockMs, makeDriver } from './helpers.js';

const names: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => undefined);
  for (const name of names.splice(0)) await deleteQueue(name);
});
function queueName(): string {
  const name = `qk-sb-contract-${randomUUID().slice(0, 8)}`;
  names.push(name);
  return name;
}
function driver(): ServiceBusDriver {
  const made = makeDriver();
  cleanups.push(() => made.close());
  return made;
}
async function receiveOne(on: ServiceBusDriver, name: string, holdMs: number): Promise<Delivery> {
  await on.send(name, [{ id: 'j1', name: 'work', body: new TextEncoder().encode('{}'), headers: {} }]);
  return until('a delivery', 20_000, async () => {
    const [delivery] = await on.receive(name, {
      max: 1,
      waitMs: 1000,
      lockMs: holdMs,
      signal: new AbortController().signal,
    });
    return delivery;
  });
}

describe('capabilities and reserved headers', () => {
  it("declares deliveryCount 'exact' and reserves the application properties it interprets", () => {
    const made = driver();
    expect(made.capabilities.deliveryCount).toBe('exact');
    expect(made.reservedHeaders).toEqual(
      expect.arrayContaining([
        'x-queuekit-id',
        'x-queuekit-attempts',
        'x-queuekit-dead-lettered-at',
        'DeadLetterReason',
        'DeadLetterErrorDescription',
        'Diagnostic-Id',
      ]),
    );
  });

  it('a user header named like a reserved one is refused on send (any case), nothing sent', async () => {
    const name = queueName();
    const queue = createQueue({ name, driver: driver() });
    cleanups.push(() => queue.close({ timeout: 0 }));
    for (const header of ['DeadLetterReason', 'x-queuekit-id', 'diagnostic-id']) {
      await expect(queue.send('x', {}, { headers: { [header]: 'forged' } })).rejects.toBeInstanceOf(
        ConfigError,
      );
    }
    expect((await queue.stats()).waiting ?? 0).toBe(0);
  });
});

describe('Delivery.lockedUntil', () => {
  it("a delivery is the kit's own through the core's guard (no wrapper per message)", async () => {
    const name = queueName();
    const delivery = await receiveOne(guardDriver(driver()), name, lockMs);
    expect(types.isProxy(delivery)).toBe(false);
    await delivery.ack();
  });

  it('starts at the lock the core asked for and moves forward with extendLock', async () => {
    const name = queueName();
    const made = driver();
    const before = Date.now();
    const delivery = await receiveOne(made, name, 2 * lockMs);
    const first = delivery.lockedUntil as number;
    expect(first).toBeGreaterThanOrEqual(before + lockMs);
    expect(first).toBeLessThanOrEqual(Date.now() + 2 * lockMs);
    await until('time passes', 5 * lockMs, () => Date.now() > first - lockMs, 50);
    await delivery.extendLock?.(3 * lockMs);
    expect(delivery.lockedUntil as number).toBeGreaterThan(first);
    await delivery.ack();
  });

  it('falls back to the broker lock once a renewal failed (the lock was lost)', async () => {
    const name = queueName();
    const made = driver();
    // Held for one queue lock: no renewal; let it lapse, then ask for more.
    const delivery = await receiveOne(made, name, lockMs);
    const held = delivery.lockedUntil as number;
    await until('the lock runs out', 5 * lockMs, () => Date.now() > held + lockMs, 50);
    await expect(delivery.extendLock?.(lockMs)).rejects.toThrow();
    // Not the hold asked for just now: the broker's expiry, already past.
    expect(delivery.lockedUntil as number).toBeLessThan(Date.now());
  });

  it('with prefetch, a delivery left unsettled past its lock gives its credit back: the stream goes on', async () => {
    const name = queueName();
    const made = makeDriver({ prefetch: true });
    cleanups.push(() => made.close());
    const body = new TextEncoder().encode('{}');
    await made.send(name, [
      { id: 'a', name: 'work', body, headers: {} },
      { id: 'b', name: 'work', body, headers: {} },
    ]);
    const signal = new AbortController().signal;
    // Credit 1: the stream holds one message at a time until it is let go.
    const take = () => made.receive(name, { max: 1, waitMs: 1000, lockMs, signal });
    const first = await until('the first delivery', 20_000, async () => (await take())[0]);
    await until('its lock runs out', 5 * lockMs, () => Date.now() > (first.lockedUntil as number), 50);
    // Refused by the kit without a broker call.
    await expect(first.ack()).rejects.toThrow(LockLostError);
    const other = first.id === 'a' ? 'b' : 'a';
    const seen = new Set<string>();
    await until('the other job', 10 * lockMs, async () => {
      for (const delivery of await take()) {
        seen.add(delivery.id);
        await delivery.ack().catch(() => undefined);
      }
      return seen.has(other);
    });
  });
});

describe('dead-letter texts within the broker limits', () => {
  it('truncates the description to 4,096 characters and the reason to 1,024, never inside a surrogate pair', async () => {
    const name = queueName();
    const made = driver();
    const delivery = await receiveOne(made, name, 2 * lockMs);
    const error = `${'e'.repeat(4080)}${'😀'.repeat(2000)}`;
    await delivery.deadLetter({ reason: 'r'.repeat(5000), error, attempts: 3 });
    const [letter] = await until('the dead letter', 10_000, async () => {
      const list = await made.listDeadLetters(name, 10);
      return list.length > 0 ? list : undefined;
    });
    expect(letter?.error?.length).toBeLessThanOrEqual(4096);
    expect(letter?.error).toMatch(/^e{4080}/);
    expect(letter?.error).toMatch(/e😀+\.\.\.$/u);
    expect(letter?.error).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    expect(letter?.reason.length).toBeLessThanOrEqual(1024);
    expect(letter?.attempts).toBe(3);
  });
});

describe('receive signals', () => {
  it('links the caller signal without AbortSignal.any and leaves no listener behind', async () => {
    const name = queueName();
    const made = driver();
    const signal = new AbortController().signal;
    const any = vi.spyOn(AbortSignal, 'any');
    try {
      for (let i = 0; i < 20; i++) await made.receive(name, { max: 1, waitMs: 0, lockMs, signal });
      await made.receive(name, { max: 1, waitMs: 50, lockMs, signal });
      expect(any).not.toHaveBeenCalled();
    } finally {
      any.mockRestore();
    }
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });
});
