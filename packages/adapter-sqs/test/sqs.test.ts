import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { ConfigError, createQueue, PayloadTooLargeError, utf8 } from '@queuekit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createDriver, parseSqsUrl, type SqsDriver } from '../src/index.js';
import { endpoint, makeDriver, uniqueName } from './helpers.js';

const created: string[] = [];
const admin = makeDriver();

afterAll(async () => {
  for (const name of created) await admin.deleteQueue(name).catch(() => undefined);
  await admin.close();
});

function track(name: string): string {
  created.push(name);
  return name;
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('URL', () => {
  it('parses queue, region, endpoint and options, and refuses credentials and unknown parameters', () => {
    expect(
      parseSqsUrl('sqs://Orders_1.fifo?region=eu-west-1&endpoint=http://127.0.0.1:4566&maxDelayMs=60000'),
    ).toEqual({
      defaultQueue: 'Orders_1.fifo',
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:4566',
      maxDelayMs: 60000,
    });
    expect(parseSqsUrl('sqs://?region=us-east-2')).toEqual({ region: 'us-east-2' });
    expect(() => parseSqsUrl('sqs://AKIA:secret@queue')).toThrow(ConfigError);
    try {
      parseSqsUrl('sqs://AKIA:supersecret@queue');
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('supersecret');
    }
    expect(() => parseSqsUrl('sqs://q?bogus=1')).toThrow(/url\.bogus/);
    expect(() => makeDriver({ maxDelayMs: 901_000 })).toThrow(/maxDelayMs/);
  });

  it('createDriver reads the URL queue and declares its MaximumMessageSize as the payload limit', async () => {
    const name = track(uniqueName('small'));
    const raw = admin.client;
    await raw.send(new CreateQueueCommand({ QueueName: name, Attributes: { MaximumMessageSize: '2048' } }));
    const url = `sqs://${name}?region=us-east-1${endpoint ? `&endpoint=${encodeURIComponent(endpoint)}` : ''}`;
    const driver = await createDriver({ url });
    try {
      expect(driver.provider).toBe('sqs');
      expect(driver.capabilities.maxPayloadBytes).toBe(2048);
      const queue = createQueue<{ s: string }>({ name, driver });
      await expect(queue.send('big', { s: 'x'.repeat(3000) })).rejects.toBeInstanceOf(PayloadTooLargeError);
      // Below the core's estimate but above the wire size (attributes count): the driver refuses it too.
      await expect(
        driver.send(name, [
          { id: 'a', name: 'n', body: utf8('y'.repeat(2000)), headers: { pad: 'z'.repeat(40) } },
        ]),
      ).rejects.toBeInstanceOf(PayloadTooLargeError);
      const attrs = await raw.send(
        new GetQueueAttributesCommand({
          QueueUrl: (await raw.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl,
          AttributeNames: ['ApproximateNumberOfMessages'],
        }),
      );
      expect(attrs.Attributes?.ApproximateNumberOfMessages).toBe('0');
    } finally {
      await driver.close();
    }
  });
});

describe('queues', () => {
  it('createIfMissing=false refuses a missing queue with a ConfigError', async () => {
    const driver = makeDriver({ createIfMissing: false });
    try {
      await expect(
        driver.send(uniqueName('missing'), [{ id: '1', name: 'n', body: utf8('{}'), headers: {} }]),
      ).rejects.toBeInstanceOf(ConfigError);
    } finally {
      await driver.close();
    }
  });

  it('creates the queue with a dead-letter queue and a native redrive policy', async () => {
    const name = track(uniqueName('redrive'));
    const driver = makeDriver({ maxReceiveCount: 7 });
    try {
      await driver.send(name, [{ id: '1', name: 'n', body: utf8('{}'), headers: {} }]);
      const url = (await driver.client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
      const attrs = await driver.client.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }),
      );
      const policy = JSON.parse(attrs.Attributes?.RedrivePolicy ?? '{}') as {
        deadLetterTargetArn?: string;
        maxReceiveCount?: number;
      };
      expect(policy.maxReceiveCount).toBe(7);
      expect(policy.deadLetterTargetArn?.endsWith(`:${name}-dlq`)).toBe(true);
    } finally {
      await driver.close();
    }
  });

  it('a message moved by the native redrive policy is listed with reason `max-receive-count`', async () => {
    const name = track(uniqueName('native'));
    const driver: SqsDriver = makeDriver({ maxReceiveCount: 1 });
    try {
      await driver.send(name, [
        { id: 'job-1', name: 'n', body: utf8('{"a":1}'), headers: { 'qk-attempt': '1' } },
      ]);
      const signal = new AbortController().signal;
      const [first] = await driver.receive(name, { max: 1, waitMs: 2000, lockMs: 1000, signal });
      expect(first?.id).toBe('job-1');
      // Not settled: after the visibility timeout the next receive exceeds maxReceiveCount and SQS moves it.
      const listed = await until('the natively dead-lettered message', async () => {
        await driver.receive(name, { max: 1, waitMs: 0, lockMs: 1000, signal });
        const list = await driver.listDeadLetters(name, 10);
        return list.length === 1 ? list : undefined;
      });
      expect(listed[0]).toMatchObject({ id: 'job-1', reason: 'max-receive-count' });
      expect(Buffer.from(listed[0]?.body ?? []).toString()).toBe('{"a":1}');
    } finally {
      await driver.close();
    }
  });

  it('reads foreign messages (sent without queuekit) with their MessageId and String attributes', async () => {
    const name = track(uniqueName('foreign'));
    const driver = makeDriver();
    try {
      await driver.stats(name); // creates the queue
      const url = (await driver.client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
      const sent = await driver.client.send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: 'plain text',
          MessageAttributes: { 'content-type': { DataType: 'String', StringValue: 'text/plain' } },
        }),
      );
      const [got] = await driver.receive(name, {
        max: 1,
        waitMs: 2000,
        lockMs: 2000,
        signal: new AbortController().signal,
      });
      expect(got?.id).toBe(sent.MessageId);
      expect(got?.headers['content-type']).toBe('text/plain');
      expect(Buffer.from(got?.body ?? []).toString()).toBe('plain text');
      expect(got?.deliveryCount).toBe(1);
      await got?.ack();
      await expect(got?.ack()).rejects.toMatchObject({ code: 'ERR_LOCK_LOST' });
    } finally {
      await driver.close();
    }
  });
});

describe('FIFO', () => {
  it('maps jobId to the deduplication id and orderingKey to the message group id', async () => {
    const base = uniqueName('fifo');
    const name = track(`${base}.fifo`);
    const driver = makeDriver();
    try {
      expect(driver.priorityQueueName(name, 3)).toBe(`${base}-p3.fifo`);
      const message = { name: 'n', body: utf8('{}'), headers: {}, orderingKey: 'customer-9' };
      await driver.send(name, [{ ...message, id: 'order-1', dedup: true }]);
      await driver.send(name, [{ ...message, id: 'order-1', dedup: true }]); // dropped: same dedup id
      await driver.send(name, [{ ...message, id: 'order-1' }]); // a core copy (no dedup): kept
      const url = (await driver.client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
      const seen: { group?: string; dedup?: string }[] = [];
      await until('two messages', async () => {
        const out = await driver.client.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: 10,
            MessageSystemAttributeNames: ['MessageGroupId', 'MessageDeduplicationId'],
            VisibilityTimeout: 60,
          }),
        );
        for (const m of out.Messages ?? []) {
          seen.push({ group: m.Attributes?.MessageGroupId, dedup: m.Attributes?.MessageDeduplicationId });
          // The group is blocked while a message is in flight: delete it to get the next one.
          await driver.client.send(
            new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }),
          );
        }
        return seen.length >= 2 ? seen : undefined;
      });
      expect(seen).toHaveLength(2);
      expect(seen.every((s) => s.group === 'customer-9')).toBe(true);
      expect(seen[0]?.dedup).toBe('order-1');
      expect(seen[1]?.dedup).not.toBe('order-1');
    } finally {
      await driver.close();
    }
  });

  it('holds a delayed FIFO message until due without counting the hold as a delivery', async () => {
    const name = track(`${uniqueName('fifodelay')}.fifo`);
    const driver = makeDriver();
    const queue = createQueue<null>({ name, driver });
    try {
      const sentAt = Date.now();
      await queue.send('later', null, { delay: 1500 });
      const ran = await new Promise<{ at: number; attempt: number }>((resolve) => {
        queue.process(async (job) => resolve({ at: Date.now(), attempt: job.attempt }));
      });
      expect(ran.at - sentAt).toBeGreaterThanOrEqual(1500);
      expect(ran.attempt).toBe(1);
    } finally {
      await queue.close({ timeout: 1000 });
      await driver.close();
    }
  });
});
