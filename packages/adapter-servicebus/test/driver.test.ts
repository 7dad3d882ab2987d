import { randomUUID } from 'node:crypto';
import { ServiceBusClient } from '@azure/service-bus';
import { deferred, until } from '@queuekit/conformance';
import {
  BrokerUnavailableError,
  ConfigError,
  createQueue,
  LockLostError,
  PayloadTooLargeError,
  QueueClosedError,
  type Queue,
} from '@queuekit/core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDriver, optionsFromUrl, PREMIUM_MAX_MESSAGE_BYTES, ServiceBusDriver } from '../src/index.js';
import { connectionString, deleteQueue, lockMs, makeDriver, target } from './helpers.js';

const names: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
function queueName(): string {
  const name = `qk-sb-${randomUUID().slice(0, 8)}`;
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

function queueOn<T>(name: string): Queue<T> {
  const queue = createQueue<T>({ name, driver: makeDriver(), ownsDriver: true });
  queue.on('error', () => undefined);
  cleanups.push(() => queue.close({ timeout: 0 }));
  return queue;
}

describe('configuration', () => {
  it('parses servicebus://NAMESPACE/QUEUE with options, and connection strings', () => {
    expect(
      optionsFromUrl('servicebus://contoso/orders?duplicateDetection=true&maxMessageBytes=1048576'),
    ).toEqual({
      namespace: 'contoso',
      duplicateDetection: true,
      maxMessageBytes: 1048576,
    });
    expect(optionsFromUrl('servicebus://contoso/orders?tier=premium').maxMessageBytes).toBe(
      PREMIUM_MAX_MESSAGE_BYTES,
    );
    const cs = 'Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=abc';
    expect(optionsFromUrl(cs)).toEqual({ connectionString: cs });
  });

  it('rejects bad options with a ConfigError naming the field', () => {
    expect(() => optionsFromUrl('servicebus://contoso/q?maxMessageBytes=12')).toThrow(ConfigError);
    expect(() => new ServiceBusDriver({ connectionString, maxMessageBytes: 200 * 1024 * 1024 })).toThrow(
      /maxMessageBytes/,
    );
    const saved = process.env.SERVICEBUS_CONNECTION_STRING;
    delete process.env.SERVICEBUS_CONNECTION_STRING;
    try {
      expect(() => createDriver({ url: 'servicebus://' })).toThrow(/connectionString/);
    } finally {
      if (saved !== undefined) process.env.SERVICEBUS_CONNECTION_STRING = saved;
    }
  });

  it('declares the payload limit of the tier (256 KB Standard, configurable for Premium) minus AMQP overhead', () => {
    const standard = new ServiceBusDriver({ connectionString });
    const premium = new ServiceBusDriver({ connectionString, maxMessageBytes: 1024 * 1024 });
    cleanups.push(
      () => standard.close(),
      () => premium.close(),
    );
    expect(standard.capabilities.maxPayloadBytes).toBe(256 * 1024 - 1024);
    expect(premium.capabilities.maxPayloadBytes).toBe(1024 * 1024 - 1024);
    expect(standard.capabilities).toMatchObject({
      priority: 'emulated',
      ordering: false,
      deadLetter: 'native',
    });
  });

  it('never prints the key: an unreachable broker fails with BrokerUnavailableError without the secret', async () => {
    const secret = `SECRET${randomUUID().replaceAll('-', '')}`;
    const driver = createDriver({
      url: `Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=${secret};UseDevelopmentEmulator=true`,
      maxRetries: 0,
      operationTimeoutMs: 3000,
    });
    cleanups.push(() => driver.close());
    const error = await driver
      .send('nowhere', [{ id: '1', name: 'n', body: new Uint8Array([1]), headers: {} }])
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    const cause = (error as { cause?: Error } | undefined)?.cause;
    expect(
      `${error?.message} ${error?.stack} ${JSON.stringify(error)} ${cause?.message} ${cause?.stack}`,
    ).not.toContain(secret);
  });

  it('checks the payload size before any network call (PayloadTooLargeError, nothing sent)', async () => {
    // An unreachable broker: a network call would fail with another error.
    const driver = createDriver({
      url: 'Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=k;SharedAccessKey=x;UseDevelopmentEmulator=true',
      maxRetries: 0,
      operationTimeoutMs: 2000,
    });
    const queue = createQueue<string>({ name: 'big', driver, ownsDriver: true });
    cleanups.push(() => queue.close({ timeout: 0 }));
    await expect(queue.send('big', 'x'.repeat(256 * 1024))).rejects.toBeInstanceOf(PayloadTooLargeError);
  });
});

describe('Service Bus mapping', () => {
  it('deliveryCount: the JS SDK reports 0 on the first delivery; the driver reports 1, then 2 after an abandon', async () => {
    const name = queueName();
    const sender = native.createSender(name);
    cleanups.push(() => sender.close());
    await sender.sendMessages({ body: Buffer.from('{}'), messageId: randomUUID() });
    const peekLock = native.createReceiver(name, { maxAutoLockRenewalDurationInMs: 0 });
    cleanups.push(() => peekLock.close());
    const [first] = await peekLock.receiveMessages(1, { maxWaitTimeInMs: 10_000 });
    expect(first?.deliveryCount).toBe(0);
    await peekLock.abandonMessage(first!);

    const driver = makeDriver();
    cleanups.push(() => driver.close());
    const signal = new AbortController().signal;
    const [delivery] = await driver.receive(name, { max: 1, waitMs: 10_000, lockMs, signal });
    expect(delivery?.deliveryCount).toBe(2);
    await delivery?.ack();
    expect(await driver.receive(name, { max: 1, waitMs: 200, lockMs, signal })).toEqual([]);
  });

  it('a poison message sent with plain @azure/service-bus (not JSON) is dead-lettered with reason `undecodable`', async () => {
    const name = queueName();
    const sender = native.createSender(name);
    cleanups.push(() => sender.close());
    await sender.sendMessages({
      body: Buffer.from('<order id="7">not json</order>'),
      contentType: 'application/xml',
      messageId: 'poison-1',
      applicationProperties: { source: 'legacy-system' },
    });
    const queue = queueOn<{ ok: boolean }>(name);
    const dead = deferred<{ id: string; reason: string }>();
    queue.on('dead-lettered', (info) => dead.resolve(info));
    queue.process(async () => undefined);
    const info = await dead.promise;
    expect(info).toMatchObject({ id: 'poison-1', reason: 'undecodable' });

    // Native dead-lettering: the SDK sees the reason and description on the $DeadLetterQueue subqueue.
    const dlq = native.createReceiver(name, { subQueueType: 'deadLetter' });
    cleanups.push(() => dlq.close());
    const [record] = await until('the dead letter in $DeadLetterQueue', 10_000, async () => {
      const peeked = await dlq.peekMessages(10);
      return peeked.length > 0 ? peeked : undefined;
    });
    expect(record?.deadLetterReason).toBe('undecodable');
    expect(record?.deadLetterErrorDescription).toBeTruthy();
    expect(Buffer.from(record?.body as Buffer).toString()).toBe('<order id="7">not json</order>');
    const [listed] = await queue.deadLetters.list();
    expect(listed).toMatchObject({ id: 'poison-1', reason: 'undecodable', attempts: 1 });
    expect(listed?.headers).toMatchObject({ source: 'legacy-system' });
  });

  it('a delayed job is a native scheduled message (seen by the SDK as `scheduled`)', async () => {
    const name = queueName();
    const queue = queueOn<{ n: number }>(name);
    const id = await queue.send('later', { n: 1 }, { delay: 60 * 60_000 });
    const receiver = native.createReceiver(name);
    cleanups.push(() => receiver.close());
    const [peeked] = await until('the scheduled message', 10_000, async () => {
      const list = await receiver.peekMessages(5);
      return list.length > 0 ? list : undefined;
    });
    expect(peeked?.state).toBe('scheduled');
    expect(peeked?.applicationProperties?.['x-queuekit-id']).toBe(id);
    expect(peeked?.scheduledEnqueueTimeUtc?.getTime()).toBeGreaterThan(Date.now() + 59 * 60_000);
    expect(await queue.stats()).toMatchObject({ delayed: 1, waiting: 0 });
  });

  it('a job id maps to messageId only when deduplication is asked; re-sent copies get fresh message ids', async () => {
    const name = queueName();
    const driver = makeDriver();
    cleanups.push(() => driver.close());
    const body = new Uint8Array([123, 125]);
    await driver.send(name, [{ id: 'job-1', name: 'n', body, headers: {}, dedup: true }]);
    await driver.send(name, [{ id: 'job-1', name: 'n', body, headers: {} }]);
    await driver.send(name, [{ id: 'job-1', name: 'n', body, headers: {} }]);
    const receiver = native.createReceiver(name);
    cleanups.push(() => receiver.close());
    const peeked = await until('3 messages', 10_000, async () => {
      const list = await receiver.peekMessages(10);
      return list.length === 3 ? list : undefined;
    });
    expect(peeked[0]?.messageId).toBe('job-1');
    expect(new Set(peeked.map((m) => m.messageId)).size).toBe(3);
    expect(peeked.every((m) => m.applicationProperties?.['x-queuekit-id'] === 'job-1')).toBe(true);
  });

  it('holds a lock longer than the queue LockDuration by renewing it (renew-lock), and a settled delivery refuses a second settle', async () => {
    const name = queueName();
    const driver = makeDriver();
    cleanups.push(() => driver.close());
    await driver.send(name, [{ id: 'long', name: 'n', body: new Uint8Array([1]), headers: {} }]);
    const signal = new AbortController().signal;
    const [delivery] = await driver.receive(name, { max: 1, waitMs: 10_000, lockMs: lockMs * 3, signal });
    expect(delivery).toBeDefined();
    // Another worker must not get it while the first keeps the lock past the queue's LockDuration.
    const other = makeDriver();
    cleanups.push(() => other.close());
    expect(await other.receive(name, { max: 1, waitMs: lockMs * 2, lockMs, signal })).toEqual([]);
    await delivery?.ack();
    await expect(delivery?.ack()).rejects.toBeInstanceOf(LockLostError);
  });

  it('a lock that expired without renewal is lost: ack rejects with LockLostError and the message comes back', async () => {
    const name = queueName();
    const driver = makeDriver();
    cleanups.push(() => driver.close());
    await driver.send(name, [{ id: 'lost', name: 'n', body: new Uint8Array([1]), headers: {} }]);
    const signal = new AbortController().signal;
    const [delivery] = await driver.receive(name, { max: 1, waitMs: 10_000, lockMs: 1, signal });
    // Another worker gets it once the lock (never renewed: lockMs 1) expires.
    const other = makeDriver();
    cleanups.push(() => other.close());
    const [again] = await other.receive(name, { max: 1, waitMs: lockMs * 4, lockMs, signal });
    expect(again?.id).toBe('lost');
    expect(again?.deliveryCount).toBe(2);
    await expect(delivery?.ack()).rejects.toBeInstanceOf(LockLostError);
    await again?.ack();
  });

  it('receive returns promptly when the signal fires, and a closed driver refuses work', async () => {
    const name = queueName();
    const driver = makeDriver();
    const controller = new AbortController();
    const started = Date.now();
    const pending = driver.receive(name, { max: 1, waitMs: 30_000, lockMs, signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    expect(await pending).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5000);
    await driver.close();
    await expect(driver.send(name, [])).rejects.toBeInstanceOf(QueueClosedError);
  });
});

describe.runIf(target === 'test-server')('test server only', () => {
  it('a message abandoned past MaxDeliveryCount lands in the dead letters with MaxDeliveryCountExceeded, listed with that reason', async () => {
    const name = queueName();
    const control = inject('servicebusControlPort');
    await fetch(`http://127.0.0.1:${control}/queues/${name}`, {
      method: 'PUT',
      body: JSON.stringify({ maxDeliveryCount: 2, lockDurationMs: lockMs }),
    });
    const sender = native.createSender(name);
    const receiver = native.createReceiver(name, { maxAutoLockRenewalDurationInMs: 0 });
    cleanups.push(
      () => sender.close(),
      () => receiver.close(),
    );
    await sender.sendMessages({ body: Buffer.from('{"a":1}'), messageId: 'm' });
    for (let i = 0; i < 2; i++) {
      const [message] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 10_000 });
      await receiver.abandonMessage(message!);
    }
    const driver = makeDriver();
    cleanups.push(() => driver.close());
    const [record] = await until('the broker dead letter', 10_000, async () => {
      const list = await driver.listDeadLetters(name, 10);
      return list.length > 0 ? list : undefined;
    });
    expect(record).toMatchObject({ id: 'm', reason: 'MaxDeliveryCountExceeded' });
    expect(await driver.redriveDeadLetters(name, { headers: { 'qk-attempt': '1' } })).toBe(1);
    const [back] = await driver.receive(name, {
      max: 1,
      waitMs: 10_000,
      lockMs,
      signal: new AbortController().signal,
    });
    expect(back).toMatchObject({ id: 'm', deliveryCount: 1 });
    expect(back?.headers['qk-attempt']).toBe('1');
    await back?.ack();
  });
});
