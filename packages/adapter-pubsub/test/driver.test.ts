import { PubSub } from '@google-cloud/pubsub';
import { ConfigError, LockLostError, PartialSendError, PayloadTooLargeError } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createDriver, optionsFromUrl, type PubSubDriver, queueResources } from '../src/index.js';
import { makeDriver, pubsubEnv, uniqueName } from './helpers.js';

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('URL and names', () => {
  it('parses pubsub://PROJECT/TOPIC?subscription=SUB and the driver options', () => {
    expect(
      optionsFromUrl(
        'pubsub://my-proj/jobs-{queue}?subscription={queue}-workers&ackDeadlineSeconds=60&maxDeliveryAttempts=10&messageOrdering=false&maxDelayMs=60000',
      ),
    ).toEqual({
      projectId: 'my-proj',
      topic: 'jobs-{queue}',
      subscription: '{queue}-workers',
      ackDeadlineSeconds: 60,
      maxDeliveryAttempts: 10,
      messageOrdering: false,
      maxDelayMs: 60000,
    });
    expect(optionsFromUrl('pubsub://p1')).toEqual({ projectId: 'p1' });
  });

  it('maps a queue to topic, subscription and the dead-letter pair (template, prefix, encoding)', () => {
    expect(queueResources('p', '{queue}', '{topic}.qk', 'emails')).toEqual({
      topic: 'projects/p/topics/emails',
      subscription: 'projects/p/subscriptions/emails.qk',
      orderedTopic: 'projects/p/topics/emails.ordered',
      orderedSubscription: 'projects/p/subscriptions/emails.qk.ordered',
      deadLetterTopic: 'projects/p/topics/emails.dlq',
      deadLetterSubscription: 'projects/p/subscriptions/emails.qk.dlq',
    });
    expect(queueResources('p', 'prod', 'prod-{queue}-sub', 'emails').topic).toBe(
      'projects/p/topics/prod-emails',
    );
    expect(queueResources('p', 'prod', 'prod-{queue}-sub', 'emails').subscription).toBe(
      'projects/p/subscriptions/prod-emails-sub',
    );
    expect(queueResources('p', '{queue}', '{topic}.qk', 'jobs:ü').topic).toBe(
      'projects/p/topics/jobs%3A%C3%BC',
    );
    expect(() => queueResources('p', '{queue}', '{topic}.qk', 'ab')).toThrow(ConfigError);
  });

  it('rejects bad URLs with a ConfigError naming the field, never quoting the secret', () => {
    const secret = 's3cr3t-value';
    const error = (() => {
      try {
        optionsFromUrl(`pubsub://p1?token=${secret}`);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ field: 'url.token' });
    expect(String((error as Error).message)).not.toContain(secret);
    expect(() => optionsFromUrl('pubsub://p1?ackDeadlineSeconds=5')).not.toThrow();
    expect(() => createDriver({ url: 'pubsub://p1?ackDeadlineSeconds=5' })).toThrow(
      expect.objectContaining({ field: 'ackDeadlineSeconds' }),
    );
    expect(() => createDriver({ url: 'pubsub://p1?messageOrdering=maybe' })).toThrow(
      expect.objectContaining({ field: 'url.messageOrdering' }),
    );
  });

  it('declares honest capabilities', () => {
    const driver = createDriver({ url: 'pubsub://p1' });
    expect(driver.provider).toBe('pubsub');
    expect(driver.capabilities).toEqual({
      maxDelayMs: 600_000,
      priority: 'emulated',
      dedup: false,
      ordering: true,
      maxBatchSize: 1000,
      lockRenewal: true,
      redelivery: 'timeout',
      deliveryCount: 'exact',
      deadLetter: 'native',
      maxPayloadBytes: 10_000_000,
    });
    expect(createDriver({ url: 'pubsub://p1?messageOrdering=false' }).capabilities.ordering).toBe(false);
  });
});

describe('limits, checked before any network call', () => {
  // Nothing listens on port 9: a network call would fail with BrokerUnavailableError instead.
  const offline = () => makeDriver({ clientConfig: { apiEndpoint: '127.0.0.1:9' } });

  it('a message over 10 MB is refused with PayloadTooLargeError', async () => {
    const driver = offline();
    const error = await driver
      .send('limits', [{ id: 'x', name: 'big', body: new Uint8Array(10_000_001), headers: {} }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error).toMatchObject({ limit: 10_000_000, provider: 'pubsub' });
    await driver.close();
  });

  it('headers Pub/Sub cannot carry are refused with a ConfigError naming the header', async () => {
    const driver = offline();
    await expect(
      driver.send('limits', [
        { id: 'x', name: 'n', body: utf8('{}'), headers: { 'x-big': 'v'.repeat(1025) } },
      ]),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG', field: 'headers.x-big' });
    await expect(
      driver.send('limits', [{ id: 'x', name: 'n', body: utf8('{}'), headers: { 'goog-x': 'v' } }]),
    ).rejects.toMatchObject({ field: 'headers.goog-x' });
    await driver.close();
  });
});

describe('on the emulator', () => {
  const made: { driver: PubSubDriver; queues: string[] }[] = [];
  afterEach(async () => {
    for (const { driver, queues } of made.splice(0)) {
      for (const queue of queues) await driver.deleteQueue(queue).catch(() => undefined);
      await driver.close();
    }
  });
  function fresh(): { driver: PubSubDriver; queue: string } {
    const driver = makeDriver();
    const queue = uniqueName('qk-drv');
    made.push({ driver, queues: [queue] });
    return { driver, queue };
  }
  const signal = new AbortController().signal;

  it('headers (qk-*, content-type) and bodies round-trip verbatim; a repeated id is a second message', async () => {
    const { driver, queue } = fresh();
    const headers = {
      'qk-attempt': '3',
      'qk-custom': 'ü',
      'content-type': 'application/octet-stream',
      x: '',
    };
    const body = new Uint8Array([0, 255, 128, 10]);
    await driver.send(queue, [{ id: 'same', name: 'n', body, headers }]);
    await driver.send(queue, [{ id: 'same', name: 'n', body, headers }]);
    const got = [];
    while (got.length < 2)
      got.push(...(await driver.receive(queue, { max: 2, waitMs: 2000, lockMs: 10_000, signal })));
    for (const delivery of got) {
      expect(delivery.id).toBe('same');
      expect(delivery.name).toBe('n');
      expect(delivery.headers).toEqual(headers);
      expect(Buffer.from(delivery.body).equals(Buffer.from(body))).toBe(true);
      expect(delivery.deliveryCount).toBe(1);
      await delivery.ack();
    }
  });

  it('receive returns at most max, and promptly when the signal fires', async () => {
    const { driver, queue } = fresh();
    const empty = uniqueName('qk-drv-empty');
    made.at(-1)?.queues.push(empty);
    await driver.send(
      queue,
      Array.from({ length: 5 }, (_, i) => ({ id: `m${i}`, name: 'n', body: utf8('{}'), headers: {} })),
    );
    const first = await driver.receive(queue, { max: 2, waitMs: 2000, lockMs: 10_000, signal });
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThanOrEqual(2);
    await Promise.all(first.map((delivery) => delivery.ack()));
    const stop = new AbortController();
    await driver.receive(empty, { max: 1, waitMs: 0, lockMs: 10_000, signal });
    const started = Date.now();
    setTimeout(() => stop.abort(), 200);
    expect(
      await driver.receive(empty, { max: 1, waitMs: 30_000, lockMs: 10_000, signal: stop.signal }),
    ).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a settle after the lock expired is refused with LockLostError, and the message comes back counted', async () => {
    const { driver, queue } = fresh();
    await driver.send(queue, [{ id: 'slow', name: 'n', body: utf8('{}'), headers: {} }]);
    const [late] = await driver.receive(queue, { max: 1, waitMs: 5000, lockMs: 1000, signal });
    expect(late?.deliveryCount).toBe(1);
    const [again] = await (async () => {
      for (;;) {
        const got = await driver.receive(queue, { max: 1, waitMs: 5000, lockMs: 10_000, signal });
        if (got.length > 0) return got;
      }
    })();
    await expect(late?.ack()).rejects.toBeInstanceOf(LockLostError);
    expect(again?.id).toBe('slow');
    expect(again?.deliveryCount).toBe(2);
    await again?.ack();
    await expect(again?.ack()).rejects.toBeInstanceOf(LockLostError);
  });

  it('a send that Pub/Sub takes only in part rejects with PartialSendError naming the sent and unsent job ids', async () => {
    const { driver, queue } = fresh();
    const { projectId } = pubsubEnv();
    await driver.stats(queue); // creates the topics and subscriptions
    const pubsub = new PubSub({ projectId });
    try {
      // The keyed messages' topic goes away behind the driver's back: their publish fails, the others' succeeds.
      await pubsub.topic(queueResources(projectId, '{queue}', '{topic}.qk', queue).orderedTopic).delete();
    } finally {
      await pubsub.close();
    }
    const messages = Array.from({ length: 6 }, (_, i) => ({
      id: `p${i}`,
      name: 'n',
      body: utf8('{}'),
      headers: {},
      ...(i % 2 === 1 ? { orderingKey: 'k' } : {}),
    }));
    const error = await driver.send(queue, messages).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PartialSendError);
    expect((error as PartialSendError).sent).toEqual(['p0', 'p2', 'p4']);
    expect((error as PartialSendError).unsent).toEqual(['p1', 'p3', 'p5']);
  });

  it('createIfMissing=false refuses a queue that does not exist', async () => {
    const { projectId } = pubsubEnv();
    const driver = makeDriver({ projectId, createIfMissing: false });
    made.push({ driver, queues: [] });
    await expect(
      driver.send(uniqueName('qk-missing'), [{ id: 'x', name: 'n', body: utf8('{}'), headers: {} }]),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG', field: 'createIfMissing' });
  });
});
