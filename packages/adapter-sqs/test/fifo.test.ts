import type { Message, SendMessageBatchRequest } from '@aws-sdk/client-sqs';
import { PartialSendError, utf8 } from '@queuekit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { fifoId, HASHED_ID_PREFIX } from '../src/wire.js';
import { makeDriver, uniqueName } from './helpers.js';

const admin = makeDriver();
const created: string[] = [];
afterAll(async () => {
  for (const name of created) await admin.deleteQueue(name).catch(() => undefined);
  await admin.close();
});

function fifoQueue(prefix: string): string {
  const name = `${uniqueName(prefix)}.fifo`;
  created.push(name);
  return name;
}

const signal = new AbortController().signal;
const FIFO_ID = /^[!-~]{1,128}$/;

/** Receive and ack until `count` deliveries came back (FIFO groups unblock on ack), in arrival order. */
async function drain(
  driver: ReturnType<typeof makeDriver>,
  queue: string,
  count: number,
  timeoutMs = 20_000,
) {
  const got: { id: string; body: string; orderingKey?: string; groupId?: string }[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < count && Date.now() < deadline) {
    const batch = await driver.receive(queue, { max: 10, waitMs: 1000, lockMs: 30_000, signal });
    for (const delivery of batch) {
      got.push({
        id: delivery.id,
        body: Buffer.from(delivery.body).toString('utf8'),
        ...(delivery.orderingKey === undefined ? {} : { orderingKey: delivery.orderingKey }),
        ...((delivery.raw as Message).Attributes?.MessageGroupId === undefined
          ? {}
          : { groupId: (delivery.raw as Message).Attributes?.MessageGroupId }),
      });
      await delivery.ack();
    }
  }
  return got;
}

describe('FIFO ids (issue 13: no silent collisions)', () => {
  it('maps ids SQS cannot take one-to-one: valid ids as they are, others (and the hash prefix) to SHA-256', () => {
    expect(fifoId('order-1')).toBe('order-1');
    const long = 'x'.repeat(200);
    expect(fifoId(long)).toMatch(FIFO_ID);
    expect(fifoId(long)).not.toBe(fifoId(`${'x'.repeat(199)}y`));
    expect(fifoId('ü')).toMatch(FIFO_ID);
    // An id that looks like a hash is hashed too, so it cannot collide with the hash of another id.
    const hashed = fifoId(long);
    expect(hashed.startsWith(HASHED_ID_PREFIX)).toBe(true);
    expect(fifoId(hashed)).not.toBe(hashed);
  });

  it('two long deduplicated ids sharing their first 100 bytes are both delivered; a true duplicate is still dropped', async () => {
    const queue = fifoQueue('fifoids');
    const driver = makeDriver();
    try {
      const prefix = 'ü'.repeat(60); // 120 bytes in common, non-ASCII: not a valid dedup id as it is
      const ids = [`${prefix}-first`, `${prefix}-second`, `${'a'.repeat(140)}-1`, `${'a'.repeat(140)}-2`];
      for (const id of ids)
        await driver.send(queue, [{ id, name: 'n', body: utf8('{}'), headers: {}, dedup: true }]);
      const got = await drain(driver, queue, ids.length);
      expect(got.map((d) => d.id).sort()).toEqual([...ids].sort());
      for (const d of got) expect(d.groupId).toMatch(FIFO_ID);
      await driver.send(queue, [
        { id: ids[0] as string, name: 'n', body: utf8('{}'), headers: {}, dedup: true },
      ]);
      expect(await driver.receive(queue, { max: 10, waitMs: 1500, lockMs: 30_000, signal })).toEqual([]);
    } finally {
      await driver.close();
    }
  });

  it('a long non-ASCII ordering key becomes a valid MessageGroupId and comes back as sent, in order', async () => {
    const queue = fifoQueue('fifokey');
    const driver = makeDriver();
    try {
      const key = `${'k'.repeat(200)}é`;
      const other = `${'k'.repeat(200)}è`;
      await driver.send(
        queue,
        [0, 1, 2].map((i) => ({ id: `j${i}`, name: 'n', body: utf8('{}'), headers: {}, orderingKey: key })),
      );
      await driver.send(queue, [{ id: 'o', name: 'n', body: utf8('{}'), headers: {}, orderingKey: other }]);
      const got = await drain(driver, queue, 4);
      const ofKey = got.filter((d) => d.orderingKey === key);
      expect(ofKey.map((d) => d.id)).toEqual(['j0', 'j1', 'j2']);
      expect(got.find((d) => d.id === 'o')?.orderingKey).toBe(other);
      for (const d of got) expect(d.groupId).toMatch(FIFO_ID);
      // Two keys sharing 200 characters are two groups.
      expect(new Set(got.map((d) => d.groupId)).size).toBe(2);
    } finally {
      await driver.close();
    }
  });
});

describe('FIFO order beyond one batch (issue 12)', () => {
  it('one send of 25 keyed messages goes out as sequential batches and arrives in order, emoji bodies included', async () => {
    const queue = fifoQueue('fifoorder');
    const driver = makeDriver();
    let inFlight = 0;
    let maxInFlight = 0;
    let batches = 0;
    driver.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'SendMessageBatchCommand') return next(args);
        batches++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        try {
          return await next(args);
        } finally {
          inFlight--;
        }
      },
      { step: 'initialize', name: 'countBatches' },
    );
    try {
      await driver.stats(queue); // create the queue first: only the send's own batches are counted
      // Every fourth body has a character beyond U+FFFF, which some SQS emulators refuse as text.
      const messages = Array.from({ length: 25 }, (_, i) => ({
        id: `m${String(i).padStart(2, '0')}`,
        name: 'n',
        body: utf8(JSON.stringify({ i, s: i % 4 === 3 ? 'party 🎉' : 'plain' })),
        headers: {},
        orderingKey: 'one-key',
      }));
      await driver.send(queue, messages);
      expect(batches).toBeGreaterThanOrEqual(3);
      expect(maxInFlight).toBe(1);
      const got = await drain(driver, queue, 25);
      expect(got.map((d) => d.id)).toEqual(messages.map((m) => m.id));
      expect(got[3]?.body).toBe(JSON.stringify({ i: 3, s: 'party 🎉' }));
    } finally {
      await driver.close();
    }
  });
});

describe('partly refused batches (issue 13: say which ids were sent)', () => {
  it('a send of 15 where SQS refuses one entry rejects with PartialSendError naming the sent and unsent job ids', async () => {
    const queue = uniqueName('partial');
    created.push(queue);
    const driver = makeDriver();
    // The service refuses entry m12 (it is taken out of the request and reported as failed), as SQS does for a bad entry.
    driver.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'SendMessageBatchCommand') return next(args);
        const input = args.input as SendMessageBatchRequest;
        const refused = (input.Entries ?? []).filter((entry) => entry.Id === 'm12');
        if (refused.length === 0) return next(args);
        const result = await next({
          ...args,
          input: { ...input, Entries: (input.Entries ?? []).filter((e) => e.Id !== 'm12') },
        });
        const output = result.output as { Failed?: unknown[] };
        output.Failed = [
          ...(output.Failed ?? []),
          { Id: 'm12', Code: 'InvalidParameterValue', SenderFault: true, Message: 'refused for the test' },
        ];
        return result;
      },
      { step: 'initialize', name: 'refuseOne' },
    );
    try {
      const messages = Array.from({ length: 15 }, (_, i) => ({
        id: `p${i}`,
        name: 'n',
        body: utf8('{}'),
        headers: {},
      }));
      const error = await driver.send(queue, messages).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(PartialSendError);
      expect((error as PartialSendError).unsent).toEqual(['p12']);
      expect([...(error as PartialSendError).sent].sort()).toEqual(
        messages
          .map((m) => m.id)
          .filter((id) => id !== 'p12')
          .sort(),
      );
      const got = await drain(driver, queue, 14);
      expect(got.map((d) => d.id).sort()).toEqual([...(error as PartialSendError).sent].sort());
    } finally {
      await driver.close();
    }
  });
});
