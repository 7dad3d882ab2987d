import { getEventListeners } from 'node:events';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { utf8 } from '@queuekit/core';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { cutForAttribute, MAX_DEAD_LETTER_ERROR_BYTES } from '../src/wire.js';
import { makeDriver, uniqueName } from './helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

const admin = makeDriver();
const created: string[] = [];
afterAll(async () => {
  for (const name of created) await admin.deleteQueue(name).catch(() => undefined);
  await admin.close();
});

/**
 * Signals that `AbortSignal.any()` made from `signal` and still keeps (Node's internal set of
 * dependants, which on Node 20/22 only grows), or 0 when this runtime does not expose it.
 */
function dependants(signal: AbortSignal): number {
  const symbol = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals');
  const set = symbol === undefined ? undefined : (signal as unknown as Record<symbol, unknown>)[symbol];
  return set instanceof Set ? set.size : 0;
}

describe('receive (issue 13: no AbortSignal.any per receive)', () => {
  it('300 receives with one long-lived consumer signal leave no listener and no composite signal on it', async () => {
    const queue = uniqueName('listeners');
    created.push(queue);
    const driver = makeDriver();
    const consumer = new AbortController();
    try {
      await driver.stats(queue);
      const listenersBefore = getEventListeners(consumer.signal, 'abort').length;
      const dependantsBefore = dependants(consumer.signal);
      // The composites AbortSignal.any() leaves behind hold no listener on the source, and Node may or may
      // not prune them before this test looks: count the calls as well.
      const any = vi.spyOn(AbortSignal, 'any');
      for (let i = 0; i < 300; i++)
        await driver.receive(queue, { max: 1, waitMs: 0, lockMs: 1000, signal: consumer.signal });
      expect(any).not.toHaveBeenCalled();
      expect(getEventListeners(consumer.signal, 'abort').length).toBe(listenersBefore);
      expect(dependants(consumer.signal)).toBeLessThanOrEqual(dependantsBefore);
      // The signal still stops a waiting receive at once.
      const waiting = driver.receive(queue, {
        max: 1,
        waitMs: 20_000,
        lockMs: 1000,
        signal: consumer.signal,
      });
      const started = performance.now();
      setTimeout(() => consumer.abort(), 100);
      expect(await waiting).toEqual([]);
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(getEventListeners(consumer.signal, 'abort').length).toBe(listenersBefore);
    } finally {
      await driver.close();
    }
  });
});

describe('delivery count and lock (issue 12)', () => {
  it('declares deliveryCount exact, and lockedUntil follows extendLock', async () => {
    const queue = uniqueName('locked');
    created.push(queue);
    const driver = makeDriver();
    const signal = new AbortController().signal;
    try {
      expect(driver.capabilities.deliveryCount).toBe('exact');
      await driver.send(queue, [{ id: 'a', name: 'n', body: utf8('{}'), headers: {} }]);
      const before = Date.now();
      const [delivery] = await driver.receive(queue, { max: 1, waitMs: 3000, lockMs: 4000, signal });
      const first = delivery?.lockedUntil ?? 0;
      expect(first).toBeGreaterThan(before);
      expect(first).toBeLessThanOrEqual(Date.now() + 4000 + 50);
      const extendedAt = Date.now();
      await delivery?.extendLock?.(30_000);
      const second = delivery?.lockedUntil ?? 0;
      expect(second).toBeGreaterThanOrEqual(extendedAt + 30_000 - 50);
      expect(second).toBeLessThanOrEqual(Date.now() + 30_000 + 50);
      await delivery?.ack();
    } finally {
      await driver.close();
    }
  });
});

/** Bytes of `text` as the driver sends it in an attribute: JSON with every non-ASCII UTF-16 unit escaped. */
function sentBytes(text: string): number {
  return JSON.stringify(text).replace(/[\u007f-\uffff]/g, '\\uXXXX').length;
}

describe('dead-letter error text (issue 13: capped per broker limit)', () => {
  it('cuts long error text to 4 KiB as sent, whole characters only', () => {
    const cut = cutForAttribute('é'.repeat(5000), MAX_DEAD_LETTER_ERROR_BYTES);
    expect(sentBytes(cut)).toBeLessThanOrEqual(4096);
    expect(sentBytes(cut)).toBeGreaterThan(4000);
    expect(cut.endsWith('...')).toBe(true);
    expect(cutForAttribute('short', 4096)).toBe('short');
    const astral = cutForAttribute('🎉'.repeat(2000), 100);
    expect(astral.replace('...', '').length % 2).toBe(0); // no lone surrogate
  });

  it('a dead letter near the queue size limit keeps a cut error instead of none', async () => {
    const queue = uniqueName('dlcap');
    created.push(queue);
    const driver = makeDriver();
    const signal = new AbortController().signal;
    try {
      await driver.client.send(
        new CreateQueueCommand({ QueueName: queue, Attributes: { MaximumMessageSize: '2048' } }),
      );
      await driver.send(queue, [{ id: 'big', name: 'n', body: utf8('x'.repeat(1500)), headers: {} }]);
      const [delivery] = await driver.receive(queue, { max: 1, waitMs: 3000, lockMs: 10_000, signal });
      await delivery?.deadLetter({ reason: 'max-attempts', error: `boom ${'é'.repeat(3000)}`, attempts: 3 });
      const [listed] = await driver.listDeadLetters(queue, 10);
      expect(listed).toMatchObject({ id: 'big', reason: 'max-attempts', attempts: 3 });
      expect(listed?.error?.startsWith('boom é')).toBe(true);
      expect(listed?.error?.endsWith('...')).toBe(true);

      // On a roomy queue the cap is 4 KiB as sent.
      const roomy = uniqueName('dlcap-roomy');
      created.push(roomy);
      await driver.send(roomy, [{ id: 'small', name: 'n', body: utf8('{}'), headers: {} }]);
      const [other] = await driver.receive(roomy, { max: 1, waitMs: 3000, lockMs: 10_000, signal });
      await other?.deadLetter({ reason: 'max-attempts', error: 'é'.repeat(5000) });
      const [kept] = await driver.listDeadLetters(roomy, 10);
      expect(sentBytes(kept?.error ?? '')).toBeGreaterThan(4000);
      expect(sentBytes(kept?.error ?? '')).toBeLessThanOrEqual(4096);
    } finally {
      await driver.close();
    }
  });
});

describe('close (conformance v2: acks issued before close are not lost)', () => {
  it('close() waits for acks in flight: the job does not come back, and the queue can be deleted right after', async () => {
    const queue = uniqueName('closeack');
    created.push(queue);
    const driver = makeDriver();
    const signal = new AbortController().signal;
    await driver.send(
      queue,
      Array.from({ length: 3 }, (_, i) => ({ id: `c${i}`, name: 'n', body: utf8('{}'), headers: {} })),
    );
    const deliveries = [];
    while (deliveries.length < 3)
      deliveries.push(...(await driver.receive(queue, { max: 3, waitMs: 2000, lockMs: 1000, signal })));
    // Slow deletes: the acks are still on their way when close() starts.
    driver.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'DeleteMessageBatchCommand') await new Promise((r) => setTimeout(r, 300));
        return next(args);
      },
      { step: 'initialize', name: 'slowDeletes' },
    );
    let settledCount = 0;
    const acks = deliveries.map((delivery) => delivery.ack().finally(() => settledCount++));
    await driver.close();
    expect(settledCount).toBe(3);
    const settled = await Promise.allSettled(acks);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const other = makeDriver();
    try {
      expect(await other.receive(queue, { max: 10, waitMs: 2500, lockMs: 1000, signal })).toEqual([]);
    } finally {
      await other.close();
    }
  });
});

describe('receive of more than 10 (issue 16: SQS receive at 0.6x of the native client)', () => {
  it('after a full first batch, asks for the rest in parallel calls and returns every message', async () => {
    const queue = uniqueName('parallel');
    created.push(queue);
    const driver = makeDriver();
    const signal = new AbortController().signal;
    try {
      await driver.send(
        queue,
        Array.from({ length: 50 }, (_, i) => ({
          id: `m${i}`,
          name: 'n',
          body: utf8(`{"i":${i}}`),
          headers: {},
        })),
      );
      let inFlight = 0;
      let mostInFlight = 0;
      const send = SQSClient.prototype.send;
      vi.spyOn(SQSClient.prototype, 'send').mockImplementation(function (
        this: SQSClient,
        ...args: Parameters<SQSClient['send']>
      ) {
        if (!(args[0] instanceof ReceiveMessageCommand)) return send.apply(this, args);
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        return (send.apply(this, args) as unknown as Promise<unknown>).finally(() => {
          inFlight--;
        });
      } as SQSClient['send']);
      const got = await driver.receive(queue, { max: 50, waitMs: 3000, lockMs: 30_000, signal });
      expect(got.map((d) => d.id).sort()).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`).sort());
      // One long poll for the first 10, then the other 40 in four calls at once (was: one call after another).
      expect(mostInFlight).toBe(4);
      await Promise.all(got.map((d) => d.ack()));
    } finally {
      await driver.close();
    }
  });
});
