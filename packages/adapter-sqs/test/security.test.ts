import { inspect } from 'node:util';
import { DeleteQueueCommand, GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ConfigError, utf8 } from '@queuekit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSqsUrl, SqsDriver } from '../src/index.js';
import { endpoint, makeDriver, target, uniqueName } from './helpers.js';

const admin = makeDriver();
const created: string[] = [];
afterAll(async () => {
  for (const name of created) await admin.deleteQueue(name).catch(() => undefined);
  await admin.close();
});
const signal = new AbortController().signal;

/** Secrets with the characters that break naive scrubbers: `/`, `%`, `#` and spaces. */
const SECRET = 'Se/cr%2Fet#with spaces';
const KEY_ID = 'AKIASENTINEL/%#KEY ID';
const TOKEN = 'To/ken%20#sentinel session';

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
  for (const secret of [SECRET, KEY_ID, TOKEN]) {
    for (const form of [secret, encodeURIComponent(secret), secret.split(' ')[0] as string])
      if (shown.includes(form)) found.push(form);
  }
  return found;
}

function clientWithSecrets(at = endpoint): SQSClient {
  return new SQSClient({
    region: 'us-east-1',
    ...(at ? { endpoint: at } : {}),
    credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET, sessionToken: TOKEN },
  });
}

describe('secrets (issue 13)', () => {
  it('credentials in the URL or the endpoint are refused, and the error does not repeat them', () => {
    for (const url of [
      `sqs://q?region=us-east-1&accessKeyId=${encodeURIComponent(KEY_ID)}`,
      `sqs://q?secretAccessKey=${encodeURIComponent(SECRET)}`,
      `sqs://q?sessionToken=${encodeURIComponent(TOKEN)}`,
      `sqs://${encodeURIComponent(KEY_ID)}:${encodeURIComponent(SECRET)}@q`,
    ]) {
      const error = (() => {
        try {
          parseSqsUrl(url);
        } catch (caught) {
          return caught;
        }
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect(leaks(error)).toEqual([]);
    }
    expect(() => parseSqsUrl(`sqs://q?secretAccessKey=x`)).toThrow(
      expect.objectContaining({ field: 'url.secretAccessKey' }),
    );
    const endpointError = (() => {
      try {
        new SqsDriver({
          endpoint: `http://${encodeURIComponent(KEY_ID)}:${encodeURIComponent(SECRET)}@127.0.0.1:4566`,
        });
      } catch (caught) {
        return caught;
      }
    })();
    expect(endpointError).toMatchObject({ code: 'ERR_CONFIG', field: 'endpoint' });
    expect(leaks(endpointError)).toEqual([]);
  });

  it('plaintext http:// endpoints are refused for hosts other than loopback unless allowInsecure', () => {
    for (const endpoint of ['http://sqs.example.com', 'http://10.0.0.5:4566', 'http://localstack:4566'])
      expect(() => new SqsDriver({ endpoint })).toThrow(expect.objectContaining({ field: 'endpoint' }));
    for (const endpoint of [
      'https://sqs.eu-west-1.amazonaws.com',
      'http://127.0.0.1:4566',
      'http://localhost:4566',
      'http://[::1]:4566',
    ])
      expect(() => new SqsDriver({ endpoint })).not.toThrow();
    expect(() => new SqsDriver({ endpoint: 'http://localstack:4566', allowInsecure: true })).not.toThrow();
    expect(parseSqsUrl('sqs://q?endpoint=http://localstack:4566&allowInsecure=true')).toMatchObject({
      allowInsecure: true,
    });
  });

  it('util.inspect and JSON of the driver, its deliveries and job.raw show no credentials', async () => {
    if (target === 'aws') return; // needs a service that accepts made-up credentials
    const queue = uniqueName('secrets');
    created.push(queue);
    const client = clientWithSecrets();
    const driver = new SqsDriver({ ...(endpoint ? { endpoint } : {}), client });
    try {
      await driver.send(queue, [{ id: 'a', name: 'n', body: utf8('{}'), headers: {} }]);
      const [delivery] = await driver.receive(queue, { max: 1, waitMs: 2000, lockMs: 5000, signal });
      expect(delivery).toBeDefined();
      expect(leaks(driver)).toEqual([]);
      expect(leaks(delivery)).toEqual([]);
      expect(leaks(delivery?.raw)).toEqual([]);
      expect(JSON.parse(JSON.stringify(driver))).toMatchObject({ provider: 'sqs', region: 'us-east-1' });
      expect(inspect(driver)).toContain('SqsDriver');
      await delivery?.ack();
    } finally {
      await driver.close();
      client.destroy();
    }
  });

  it('errors from SQS and from an unreachable endpoint carry no request (whose headers hold the session token)', async () => {
    if (target === 'aws') return;
    const queue = uniqueName('secrets-gone');
    const client = clientWithSecrets();
    const driver = new SqsDriver({ ...(endpoint ? { endpoint } : {}), client });
    const offlineClient = clientWithSecrets('http://127.0.0.1:9');
    const offline = new SqsDriver({ endpoint: 'http://127.0.0.1:9', client: offlineClient });
    try {
      await driver.stats(queue); // creates it and caches its URL
      const url = (await client.send(new GetQueueUrlCommand({ QueueName: queue }))).QueueUrl;
      await client.send(new DeleteQueueCommand({ QueueUrl: url }));
      const serviceError = await driver.stats(queue).catch((error: unknown) => error);
      expect(serviceError).toBeInstanceOf(Error);
      expect(leaks(serviceError)).toEqual([]);
      const networkError = await offline
        .send('q', [{ id: 'a', name: 'n', body: utf8('{}'), headers: {} }])
        .catch((error: unknown) => error);
      expect(networkError).toMatchObject({ code: 'ERR_BROKER_UNAVAILABLE' });
      expect(leaks(networkError)).toEqual([]);
    } finally {
      await driver.deleteQueue(queue).catch(() => undefined);
      await driver.close();
      await offline.close();
      client.destroy();
      offlineClient.destroy();
    }
  });
});

describe('attributes from other producers (issue 13)', () => {
  it('a forged or far-future qk-due never parks a message; headers keep only strings, without a prototype', async () => {
    const standard = uniqueName('forged');
    const fifo = `${uniqueName('forged')}.fifo`;
    created.push(standard, fifo);
    const driver = makeDriver();
    try {
      await driver.stats(standard);
      await driver.stats(fifo);
      const urlOf = async (name: string) =>
        (await driver.client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
      const attrs = (due: string) => ({
        'qk-id': { DataType: 'String', StringValue: 'forged-1' },
        'qk-name': { DataType: 'String', StringValue: 'n' },
        'qk-headers': {
          DataType: 'String',
          StringValue: '{"a":1,"b":"x","__proto__":{"polluted":"yes"},"qk-attempt":["9"]}',
        },
        'qk-due': { DataType: 'String', StringValue: due },
      });
      const farAway = String(Date.now() + 10 * 365 * 86_400_000);
      await driver.client.send(
        new SendMessageCommand({
          QueueUrl: await urlOf(standard),
          MessageBody: '{}',
          MessageAttributes: attrs(farAway),
        }),
      );
      await driver.client.send(
        new SendMessageCommand({
          QueueUrl: await urlOf(fifo),
          MessageBody: '{}',
          MessageAttributes: attrs('1e15'),
          MessageGroupId: 'g',
          MessageDeduplicationId: 'd1',
        }),
      );
      for (const queue of [standard, fifo]) {
        const [got] = await driver.receive(queue, { max: 1, waitMs: 3000, lockMs: 5000, signal });
        expect(got?.id).toBe('forged-1');
        expect(got?.deliveryCount).toBe(1);
        expect({ ...got?.headers }).toEqual({ b: 'x' });
        expect(Object.getPrototypeOf(got?.headers)).toBe(null);
        await got?.ack();
      }
    } finally {
      await driver.close();
    }
  });

  it('a forged or malformed qk-meta is delivered once and acked like any message: no throw, no park, no prototype', async () => {
    const standard = uniqueName('forgedmeta');
    const fifo = `${uniqueName('forgedmeta')}.fifo`;
    created.push(standard, fifo);
    const driver = makeDriver();
    try {
      const forged = [
        '{oops', // not JSON: read as a foreign message (its attributes as headers)
        '[1,2]',
        'null',
        '"id"',
        `{"id":5,"name":["n"],"key":{},"encoding":"hex","due":${Date.now() + 10 * 365 * 86_400_000},` +
          '"headers":{"a":1,"b":"x","__proto__":{"polluted":"yes"},"qk-attempt":["9"]}}',
        '{"id":"forged-due","due":"1e15","headers":[1]}',
        `{"id":"deep","headers":${'['.repeat(50_000)}${']'.repeat(50_000)}}`, // nesting deeper than a stack
      ];
      for (const queue of [standard, fifo]) {
        await driver.stats(queue);
        const url = (await driver.client.send(new GetQueueUrlCommand({ QueueName: queue }))).QueueUrl;
        for (const [i, value] of forged.entries())
          await driver.client.send(
            new SendMessageCommand({
              QueueUrl: url,
              MessageBody: `{"i":${i}}`,
              MessageAttributes: { 'qk-meta': { DataType: 'String', StringValue: value } },
              ...(queue === fifo ? { MessageGroupId: `g${i}`, MessageDeduplicationId: `d${i}` } : {}),
            }),
          );
        const got = [];
        for (let tries = 0; got.length < forged.length && tries < 20; tries++)
          got.push(...(await driver.receive(queue, { max: 10, waitMs: 2000, lockMs: 10_000, signal })));
        expect(got.map((d) => JSON.parse(Buffer.from(d.body).toString()).i).sort()).toEqual(
          forged.map((_, i) => i),
        );
        for (const d of got) {
          expect(d.deliveryCount).toBe(1);
          expect(typeof d.id).toBe('string');
          expect(d.id.length).toBeGreaterThan(0);
          expect(Object.getPrototypeOf(d.headers)).toBe(null);
          for (const value of Object.values(d.headers)) expect(typeof value).toBe('string');
          expect(d.name === undefined || typeof d.name === 'string').toBe(true);
          expect(d.orderingKey === undefined || typeof d.orderingKey === 'string').toBe(true);
        }
        const [wrongTypes] = got.filter((d) => JSON.parse(Buffer.from(d.body).toString()).i === 4);
        expect({ ...wrongTypes?.headers }).toEqual({ b: 'x' });
        expect(wrongTypes?.name).toBeUndefined();
        expect(got.find((d) => d.id === 'forged-due')).toBeDefined();
        for (const d of got) await d.ack();
        expect(await driver.receive(queue, { max: 10, waitMs: 0, lockMs: 5000, signal })).toEqual([]);
      }
    } finally {
      await driver.close();
    }
  });

  it('a dead letter with a forged qk-attempt or qk-dead-letter record is listed with a positive attempt count', async () => {
    const queue = uniqueName('forgeddl');
    created.push(queue);
    const driver = makeDriver();
    try {
      await driver.stats(queue); // creates the queue and its dead-letter queue
      const dlq = (await driver.client.send(new GetQueueUrlCommand({ QueueName: `${queue}-dlq` }))).QueueUrl;
      for (const [i, record] of ['{"reason":7,"attempts":-3}', '{"reason":"x","attempts":1e400}'].entries())
        await driver.client.send(
          new SendMessageCommand({
            QueueUrl: dlq,
            MessageBody: '{}',
            MessageAttributes: {
              'qk-id': { DataType: 'String', StringValue: `dl-${i}` },
              'qk-headers': { DataType: 'String', StringValue: '{"qk-attempt":"abc"}' },
              'qk-dead-letter': { DataType: 'String', StringValue: record },
            },
          }),
        );
      const listed = await driver.listDeadLetters(queue, 10);
      expect(listed.map((d) => d.id).sort()).toEqual(['dl-0', 'dl-1']);
      for (const d of listed) {
        expect(Number.isSafeInteger(d.attempts)).toBe(true);
        expect(d.attempts).toBeGreaterThanOrEqual(1);
        expect(typeof d.reason).toBe('string');
      }
    } finally {
      await driver.close();
    }
  });

  it('declares no reserved header names: headers travel inside one attribute, apart from the driver’s own', async () => {
    const queue = uniqueName('reserved');
    created.push(queue);
    const driver = makeDriver();
    try {
      expect(driver.reservedHeaders).toEqual([]);
      const headers = {
        'qk-due': String(Date.now() + 3_600_000),
        'qk-id': 'not-the-id',
        'qk-body-encoding': 'base64',
      };
      await driver.send(queue, [{ id: 'real', name: 'n', body: utf8('plain'), headers }]);
      const [got] = await driver.receive(queue, { max: 1, waitMs: 3000, lockMs: 5000, signal });
      expect(got?.id).toBe('real');
      expect(Buffer.from(got?.body ?? []).toString()).toBe('plain');
      expect({ ...got?.headers }).toEqual(headers);
      await got?.ack();
    } finally {
      await driver.close();
    }
  });
});
