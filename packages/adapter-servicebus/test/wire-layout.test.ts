import { randomUUID } from 'node:crypto';
import { ServiceBusClient } from '@azure/service-bus';
import { deferred, until } from '@queuekit/conformance';
import { createQueue, type Job } from '@queuekit/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectionString, deleteQueue, lockMs, makeDriver } from './helpers.js';

const names: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
function queueName(): string {
  const name = `qk-sb-wire-${randomUUID().slice(0, 8)}`;
  names.push(name);
  return name;
}

let native: ServiceBusClient;
beforeAll(() => {
  native = new ServiceBusClient(connectionString);
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => undefined);
  for (const name of names.splice(0)) await deleteQueue(name);
});
afterAll(async () => {
  await native.close();
});

function sdkSender(name: string) {
  const sender = native.createSender(name);
  cleanups.push(() => sender.close());
  return sender;
}

function driverOn(): ReturnType<typeof makeDriver> {
  const driver = makeDriver();
  cleanups.push(() => driver.close());
  return driver;
}

const CORE = {
  'qk-name': 'send-email',
  'qk-attempt': '2',
  'qk-max-attempts': '5',
  'qk-enqueued-at': '1767323045678',
  'qk-backoff': '{"type":"fixed","delay":10}',
};

describe('wire layout', () => {
  it("puts the core's qk-* headers in one qk-packed application property, content-type as contentType, and reads them back verbatim", async () => {
    const name = queueName();
    const driver = driverOn();
    const headers = {
      ...CORE,
      'content-type': 'application/json',
      'x-user': 'kept',
      'qk-custom-future': 'a',
    };
    const body = new Uint8Array([123, 125]);
    await driver.send(name, [{ id: 'job-1', name: 'send-email', body, headers }]);

    const peeker = native.createReceiver(name);
    cleanups.push(() => peeker.close());
    const [peeked] = await until('the message', 10_000, async () => {
      const list = await peeker.peekMessages(1);
      return list.length > 0 ? list : undefined;
    });
    expect(Object.keys(peeked?.applicationProperties ?? {}).sort()).toEqual([
      'qk-packed',
      'x-queuekit-id',
      'x-user',
    ]);
    expect(JSON.parse(String(peeked?.applicationProperties?.['qk-packed']))).toEqual({
      ...CORE,
      'qk-custom-future': 'a',
    });
    expect(peeked?.contentType).toBe('application/json');
    expect(peeked?.subject).toBe('send-email');

    const [delivery] = await driver.receive(name, {
      max: 1,
      waitMs: 5_000,
      lockMs,
      signal: new AbortController().signal,
    });
    expect(delivery?.id).toBe('job-1');
    expect(delivery?.name).toBe('send-email');
    expect(delivery?.headers).toEqual(headers);
    await delivery?.ack();
  });

  it('reads a message sent in the layout before qk-packed (each header its own property) exactly as before', async () => {
    const name = queueName();
    await sdkSender(name).sendMessages({
      body: Buffer.from('{"n":1}'),
      contentType: 'application/json',
      subject: 'send-email',
      messageId: randomUUID(),
      applicationProperties: { ...CORE, 'x-queuekit-id': 'old-1', 'x-user': 'kept' },
    });
    const driver = driverOn();
    const [delivery] = await driver.receive(name, {
      max: 1,
      waitMs: 5_000,
      lockMs,
      signal: new AbortController().signal,
    });
    expect(delivery?.id).toBe('old-1');
    expect(delivery?.name).toBe('send-email');
    expect(delivery?.headers).toEqual({ ...CORE, 'x-user': 'kept', 'content-type': 'application/json' });
    await delivery?.ack();
  });

  it('a job in the old layout runs on the attempt its headers say, and its retry is read back in the new one', async () => {
    const name = queueName();
    await sdkSender(name).sendMessages({
      body: Buffer.from('{"n":1}'),
      contentType: 'application/json',
      subject: 'send-email',
      applicationProperties: { ...CORE, 'x-queuekit-id': 'old-2' },
    });
    const queue = createQueue<{ n: number }>({ name, driver: makeDriver(), ownsDriver: true });
    queue.on('error', () => undefined);
    cleanups.push(() => queue.close({ timeout: 0 }));
    const seen: number[] = [];
    const done = deferred<Job<{ n: number }>>();
    queue.process(
      async (job) => {
        seen.push(job.attempt);
        if (job.attempt === 2) throw new Error('once more');
        done.resolve(job);
      },
      { lockDuration: lockMs },
    );
    const job = await done.promise;
    expect(seen).toEqual([2, 3]);
    expect(job.id).toBe('old-2');
    expect(job.data).toEqual({ n: 1 });
  });

  it('a forged qk-packed (not JSON, not an object, non-string values, a non-core key, __proto__) neither crashes nor changes the attempt', async () => {
    const name = queueName();
    const forged: unknown[] = [
      'not json',
      '{"qk-attempt":',
      '[1,2]',
      '"qk-attempt"',
      '{"qk-attempt":9}',
      '{"qk-attempt":"9","x-user":"smuggled"}',
      '{"__proto__":{"qk-attempt":"9"}}',
      '{"constructor":"9"}',
      42,
      '{"qk-attempt":"-5"}',
      '{"qk-attempt":"1e3"}',
    ];
    const sender = sdkSender(name);
    for (const [index, value] of forged.entries())
      await sender.sendMessages({
        body: Buffer.from(`{"n":${index}}`),
        contentType: 'application/json',
        subject: 'forged',
        applicationProperties: { 'qk-packed': value as string, 'x-queuekit-id': `forged-${index}` },
      });
    const queue = createQueue<{ n: number }>({ name, driver: makeDriver(), ownsDriver: true });
    queue.on('error', () => undefined);
    cleanups.push(() => queue.close({ timeout: 0 }));
    const runs = new Map<number, number[]>();
    queue.process(
      async (job) => {
        runs.set(job.data.n, [...(runs.get(job.data.n) ?? []), job.attempt]);
        expect(job.headers['x-user']).toBeUndefined();
      },
      { lockDuration: lockMs },
    );
    await until('every forged message handled', 15_000, async () =>
      runs.size === forged.length ? true : undefined,
    );
    await until('the queue empty', 10_000, async () => {
      const stats = await queue.stats();
      return stats.waiting === 0 && stats.active === 0 ? true : undefined;
    });
    for (const [index] of forged.entries()) expect(runs.get(index)).toEqual([1]);
  });

  it('dead letters, their listing and redrive keep the packed headers verbatim', async () => {
    const name = queueName();
    const driver = driverOn();
    const headers = { ...CORE, 'x-user': 'kept' };
    await driver.send(name, [{ id: 'dl-1', name: 'send-email', body: new Uint8Array([1]), headers }]);
    const signal = new AbortController().signal;
    const [delivery] = await driver.receive(name, { max: 1, waitMs: 5_000, lockMs, signal });
    await delivery?.deadLetter({ reason: 'failed', error: 'boom', attempts: 2 });
    const [listed] = await until('the dead letter', 10_000, async () => {
      const list = await driver.listDeadLetters(name, 10);
      return list.length > 0 ? list : undefined;
    });
    expect(listed).toMatchObject({ id: 'dl-1', reason: 'failed', attempts: 2 });
    expect(listed?.headers).toEqual(headers);
    expect(await driver.redriveDeadLetters(name, { headers: { 'qk-attempt': '1' } })).toBe(1);
    const [back] = await driver.receive(name, { max: 1, waitMs: 5_000, lockMs, signal });
    expect(back?.id).toBe('dl-1');
    expect(back?.headers).toEqual({ ...headers, 'qk-attempt': '1' });
    await back?.ack();
  });
});
