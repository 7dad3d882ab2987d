import {
  GetQueueUrlCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { utf8 } from '@queuekit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { fromWire, toEntry } from '../src/wire.js';
import { makeDriver, uniqueName } from './helpers.js';

const admin = makeDriver();
const created: string[] = [];
afterAll(async () => {
  for (const name of created) await admin.deleteQueue(name).catch(() => undefined);
  await admin.close();
});
const signal = new AbortController().signal;
const string = (StringValue: string): MessageAttributeValue => ({ DataType: 'String', StringValue });
const BINARY = new Uint8Array([0, 255, 1, 128, 10]);

async function urlOf(name: string) {
  await admin.stats(name); // creates the queue
  return (await admin.client.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
}

describe('wire layout (issue 16: one attribute a message)', () => {
  it('a message carries one attribute, qk-meta, whatever it needs (name, base64 body, key, due)', async () => {
    const headers = { 'qk-name': 'other', 'x-user': 'é' };
    const message = { id: 'job-é', name: 'n', body: BINARY, headers, orderingKey: 'k' };
    const due = Date.now() + 60_000;
    for (const [fifo, at] of [
      [false, undefined],
      [true, due],
    ] as const) {
      const { entry, size } = toEntry(0, message, fifo, at);
      expect(Object.keys(entry.MessageAttributes ?? {})).toEqual(['qk-meta']);
      const value = entry.MessageAttributes?.['qk-meta']?.StringValue ?? '';
      expect(value).toMatch(/^[\x20-\x7e]*$/); // non-ASCII escaped
      expect(size).toBe(Buffer.byteLength(entry.MessageBody ?? '') + 'qk-meta'.length + 6 + value.length);
      // What a consumer reads back from it, as SQS returns it.
      const raw: Message = {
        MessageId: 'sqs-id',
        Body: entry.MessageBody,
        MessageAttributes: entry.MessageAttributes,
        Attributes: { ApproximateReceiveCount: '1', MessageGroupId: entry.MessageGroupId ?? '' },
      };
      const read = fromWire(raw, fifo, false);
      expect(read.message).toMatchObject({ id: 'job-é', name: 'n', deliveryCount: 1 });
      expect({ ...read.message.headers }).toEqual(headers);
      expect([...read.message.body]).toEqual([...BINARY]);
      expect(read.message.orderingKey).toBe(fifo ? 'k' : undefined);
      expect(read.due).toBe(at);
    }
  });

  it('the core’s messages (name in the qk-name header, text body) carry only the id and headers', () => {
    const { entry } = toEntry(
      0,
      { id: 'a', name: 'n', body: utf8('{"x":1}'), headers: { 'qk-name': 'n' } },
      false,
    );
    expect(entry.MessageBody).toBe('{"x":1}');
    expect(JSON.parse(entry.MessageAttributes?.['qk-meta']?.StringValue ?? '')).toEqual({
      id: 'a',
      headers: { 'qk-name': 'n' },
    });
  });

  it('a job sent by the driver arrives with one attribute and comes back as sent', async () => {
    const queue = uniqueName('layout');
    created.push(queue);
    const url = await urlOf(queue);
    const driver = makeDriver();
    try {
      await driver.send(queue, [{ id: 'j1', name: 'n', body: BINARY, headers: { h: 'v' } }]);
      const out = await admin.client.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MessageAttributeNames: ['All'],
          WaitTimeSeconds: 2,
          VisibilityTimeout: 0,
        }),
      );
      expect(Object.keys(out.Messages?.[0]?.MessageAttributes ?? {})).toEqual(['qk-meta']);
      const [got] = await driver.receive(queue, { max: 1, waitMs: 3000, lockMs: 5000, signal });
      expect(got).toMatchObject({ id: 'j1', name: 'n' });
      expect({ ...got?.headers }).toEqual({ h: 'v' });
      expect([...(got?.body ?? [])]).toEqual([...BINARY]);
      await got?.ack();
    } finally {
      await driver.close();
    }
  });

  it('messages in the earlier layout (qk-id, qk-name, qk-headers, qk-body-encoding) are read as before', async () => {
    const queue = uniqueName('oldlayout');
    created.push(queue);
    const url = await urlOf(queue);
    const driver = makeDriver();
    try {
      const old: { MessageBody: string; MessageAttributes: Record<string, MessageAttributeValue> }[] = [
        {
          MessageBody: Buffer.from(BINARY).toString('base64'),
          MessageAttributes: {
            'qk-id': string('old-1'),
            'qk-name': string('old-name'),
            'qk-headers': string('{"qk-name":"other","x":"\\u00e9"}'),
            'qk-body-encoding': string('base64'),
          },
        },
        {
          // Ids and names that were not printable ASCII went as a JSON string; an empty body as `-`.
          MessageBody: '-',
          MessageAttributes: {
            'qk-id': string('"\\u00e9-2"'),
            'qk-headers': string('{"qk-name":"from-header"}'),
            'qk-body-encoding': string('base64'),
          },
        },
        {
          MessageBody: '{"a":1}',
          MessageAttributes: { 'qk-id': string('old-3'), 'qk-headers': string('{}') },
        },
      ];
      for (const message of old)
        await admin.client.send(new SendMessageCommand({ QueueUrl: url, ...message }));
      const got = [];
      for (let tries = 0; got.length < 3 && tries < 10; tries++)
        got.push(...(await driver.receive(queue, { max: 3, waitMs: 2000, lockMs: 5000, signal })));
      const byId = new Map(got.map((d) => [d.id, d]));
      expect([...byId.keys()].sort()).toEqual(['old-1', 'old-3', 'é-2']);
      expect(byId.get('old-1')).toMatchObject({ name: 'old-name', deliveryCount: 1 });
      expect({ ...byId.get('old-1')?.headers }).toEqual({ 'qk-name': 'other', x: 'é' });
      expect([...(byId.get('old-1')?.body ?? [])]).toEqual([...BINARY]);
      expect(byId.get('é-2')?.name).toBe('from-header');
      expect(byId.get('é-2')?.body.byteLength).toBe(0);
      expect(byId.get('old-3')?.name).toBeUndefined();
      expect(Buffer.from(byId.get('old-3')?.body ?? []).toString()).toBe('{"a":1}');
      for (const delivery of got) await delivery.ack();
    } finally {
      await driver.close();
    }
  });

  it('FIFO messages in the earlier layout keep their key (qk-key) and due time (qk-due)', () => {
    const due = Date.now() + 60_000;
    const raw: Message = {
      MessageId: 'sqs-id',
      Body: 'x',
      MessageAttributes: {
        'qk-id': string('f-1'),
        'qk-headers': string('{}'),
        'qk-key': string('"\\u00e9"'),
        'qk-due': string(String(due)),
      },
      Attributes: {
        ApproximateReceiveCount: '2',
        ApproximateFirstReceiveTimestamp: '1',
        MessageGroupId: 'g',
      },
    };
    const read = fromWire(raw, true, false);
    expect(read.due).toBe(due);
    // Received once early and held: the hold is not a delivery.
    expect(read.message).toMatchObject({ id: 'f-1', orderingKey: 'é', deliveryCount: 1 });
    expect(fromWire(raw, false, false).due).toBeUndefined();
  });
});
