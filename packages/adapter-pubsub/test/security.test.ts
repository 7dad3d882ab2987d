import { inspect } from 'node:util';
import { PubSub } from '@google-cloud/pubsub';
import { ConfigError } from '@queuekit/core';
import { until } from '@queuekit/conformance';
import { afterAll, describe, expect, it } from 'vitest';
import { PubSubDriver, queueResources } from '../src/index.js';
import { deadLetterCopy, MAX_ATTRIBUTE_VALUE_BYTES, MAX_MESSAGE_BYTES, pubsubSize } from '../src/wire.js';
import { makeDriver, pubsubEnv, uniqueName } from './helpers.js';

const utf8 = (text: string) => new TextEncoder().encode(text);
const signal = new AbortController().signal;
const made: { driver: PubSubDriver; queue: string }[] = [];
afterAll(async () => {
  for (const { driver, queue } of made) {
    await driver.deleteQueue(queue).catch(() => undefined);
    await driver.close();
  }
});

/** Secrets with the characters that break naive scrubbers: `/`, `%`, `#` and spaces. */
const SECRET = '-----BEGIN PRIVATE KEY-----Se/cr%2Fet#with spaces';
const EMAIL = 'svc%2F#sentinel /account@example.iam.gserviceaccount.com';

function leaks(value: unknown): string[] {
  const shown = [
    inspect(value, { depth: 10, showHidden: true }),
    inspect(value, { depth: 10, getters: true }),
    (() => {
      try {
        return JSON.stringify(value) ?? '';
      } catch (error) {
        return String(error);
      }
    })(),
    String(value),
  ].join('\n');
  const found: string[] = [];
  for (const secret of [SECRET, EMAIL])
    for (const form of [secret, encodeURIComponent(secret), 'Se/cr%2Fet', 'svc%2F#sentinel'])
      if (shown.includes(form)) found.push(form);
  return [...new Set(found)];
}

describe('secrets (issue 13)', () => {
  it('util.inspect and JSON of the driver and its deliveries never show clientConfig credentials', async () => {
    const { projectId } = pubsubEnv();
    const driver = new PubSubDriver({
      projectId,
      clientConfig: { credentials: { client_email: EMAIL, private_key: SECRET } },
    });
    const queue = uniqueName('qk-secrets');
    made.push({ driver, queue });
    expect(leaks(driver)).toEqual([]);
    await driver.send(queue, [{ id: 'a', name: 'n', body: utf8('{}'), headers: {} }]);
    const got = [];
    while (got.length === 0)
      got.push(...(await driver.receive(queue, { max: 1, waitMs: 5000, lockMs: 10_000, signal })));
    expect(leaks(driver)).toEqual([]);
    expect(leaks(got[0])).toEqual([]);
    expect(leaks(got[0]?.raw)).toEqual([]);
    expect(JSON.parse(JSON.stringify(driver))).toMatchObject({ provider: 'pubsub', projectId });
    await got[0]?.ack();
  });
});

describe('attributes the driver interprets (issue 13)', () => {
  // Nothing listens on port 9: a network call would fail with BrokerUnavailableError instead.
  const offline = () => makeDriver({ clientConfig: { apiEndpoint: '127.0.0.1:9' } });

  it('declares its own attribute names as reserved headers and refuses them on send', async () => {
    const driver = offline();
    try {
      expect(driver.reservedHeaders).toEqual(
        expect.arrayContaining([
          'qkd-id',
          'qkd-name',
          'qkd-deliver-at',
          'qkd-attempts',
          'qkd-dead-lettered-at',
        ]),
      );
      expect(driver.reservedHeaders).toContain('CloudPubSubDeadLetterSourceDeliveryCount');
      for (const header of ['qkd-deliver-at', 'QKD-ID', 'CloudPubSubDeadLetterSourceDeliveryCount']) {
        const error = await driver
          .send('limits', [{ id: 'x', name: 'n', body: utf8('{}'), headers: { [header]: '1' } }])
          .catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(ConfigError);
        expect(error).toMatchObject({ field: `headers.${header}` });
      }
    } finally {
      await driver.close();
    }
  });

  it('a forged qkd-deliver-at in year 5138 does not park the message: it is treated as due', async () => {
    const { projectId } = pubsubEnv();
    const driver = makeDriver({ messageOrdering: false });
    const queue = uniqueName('qk-forged');
    made.push({ driver, queue });
    await driver.stats(queue); // creates the topic and subscription
    const pubsub = new PubSub({ projectId });
    try {
      const topic = queueResources(projectId, '{queue}', '{topic}.qk', queue).topic;
      await pubsub.topic(topic).publishMessage({
        data: Buffer.from('{}'),
        attributes: { 'qkd-id': 'forged', 'qkd-name': 'n', 'qkd-deliver-at': String(Date.UTC(5138, 0, 1)) },
      });
      const deadline = Date.now() + 20_000;
      const got = [];
      while (got.length === 0 && Date.now() < deadline)
        got.push(...(await driver.receive(queue, { max: 1, waitMs: 2000, lockMs: 10_000, signal })));
      expect(got.map((d) => d.id)).toEqual(['forged']);
      expect(got[0]?.deliveryCount).toBe(1);
      expect(got[0]?.headers).not.toHaveProperty('qkd-deliver-at');
      await got[0]?.ack();
    } finally {
      await pubsub.close();
    }
  });

  it('keeps room for the dead-letter attributes: at most 96 attributes per sent message', async () => {
    const driver = offline();
    try {
      const headers = Object.fromEntries(Array.from({ length: 95 }, (_, i) => [`h${i}`, 'v']));
      await expect(
        driver.send('limits', [{ id: 'x', name: 'n', body: utf8('{}'), headers }]),
      ).rejects.toMatchObject({
        code: 'ERR_CONFIG',
        field: 'headers',
      });
    } finally {
      await driver.close();
    }
  });

  it('a listed dead letter takes forged qkd-attempts / qkd-dead-lettered-at only when they make sense', async () => {
    const { projectId } = pubsubEnv();
    const driver = makeDriver({ messageOrdering: false });
    const queue = uniqueName('qk-forged-dl');
    made.push({ driver, queue });
    await driver.stats(queue); // creates the topics and subscriptions
    const pubsub = new PubSub({ projectId });
    const forged = [
      ['-5', '9e99'],
      ['abc', '-1'],
      ['1e400', 'soon'],
      ['2.5', '0'],
    ] as const;
    try {
      const topic = pubsub.topic(queueResources(projectId, '{queue}', '{topic}.qk', queue).deadLetterTopic);
      for (const [i, [attempts, at]] of forged.entries())
        await topic.publishMessage({
          data: Buffer.from('{}'),
          attributes: {
            'qkd-id': `x${i}`,
            'qk-dead-letter-reason': 'max-attempts',
            'qkd-attempts': attempts,
            'qkd-dead-lettered-at': at,
          },
        });
      const listed = await until('the forged dead letters', 20_000, async () => {
        const list = await driver.listDeadLetters(queue, 10);
        return list.length === forged.length ? list : undefined;
      });
      for (const message of listed) {
        expect(message.reason).toBe('max-attempts');
        expect(
          message.attempts === undefined || (Number.isSafeInteger(message.attempts) && message.attempts >= 1),
        ).toBe(true);
        expect(
          message.deadLetteredAt === undefined || Number.isFinite(message.deadLetteredAt.getTime()),
        ).toBe(true);
      }
    } finally {
      await pubsub.close();
    }
  });

  it('a dead-letter copy cuts the error to 1024 bytes and to the room left under 10 MB', () => {
    const error = `boom ${'é'.repeat(3000)}`;
    const small = deadLetterCopy(
      { data: utf8('{}'), attributes: { 'qkd-id': 'a' } },
      { reason: 'max-attempts', error },
    );
    const cut = small.attributes?.['qk-dead-letter-error'] ?? '';
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_ATTRIBUTE_VALUE_BYTES);
    expect(cut.startsWith('boom é')).toBe(true);
    const data = new Uint8Array(MAX_MESSAGE_BYTES - 300);
    const big = deadLetterCopy(
      { data, attributes: { 'qkd-id': 'a' } },
      { reason: 'max-attempts', error, attempts: 3 },
    );
    expect(pubsubSize(big)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(big.attributes?.['qk-dead-letter-reason']).toBe('max-attempts');
    expect(big.attributes?.['qkd-attempts']).toBe('3');
  });
});

describe('subscriptions (issue 12: honest delivery count)', () => {
  it('refuses a subscription without a dead-letter policy (Pub/Sub would report no deliveryAttempt)', async () => {
    const { projectId } = pubsubEnv();
    const queue = uniqueName('qk-nopolicy');
    const names = queueResources(projectId, '{queue}', '{topic}.qk', queue);
    const pubsub = new PubSub({ projectId });
    try {
      const [topic] = await pubsub.createTopic(names.topic);
      await topic.createSubscription(names.subscription);
      for (const createIfMissing of [false, true]) {
        const driver = makeDriver({ messageOrdering: false, createIfMissing });
        try {
          await expect(
            driver.send(queue, [{ id: 'x', name: 'n', body: utf8('{}'), headers: {} }]),
          ).rejects.toMatchObject({ code: 'ERR_CONFIG', field: 'subscription' });
        } finally {
          await driver.close();
        }
      }
    } finally {
      const admin = makeDriver();
      await admin.deleteQueue(queue).catch(() => undefined);
      await admin.close();
      await pubsub.close();
    }
  });
});
