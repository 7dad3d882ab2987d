import { PubSub } from '@google-cloud/pubsub';
import { createQueue, type Delivery, type Job, type OutgoingMessage } from '@queuekit/core';
import { until } from '@queuekit/conformance';
import { afterEach, describe, expect, it } from 'vitest';
import { queueResources } from '../src/index.js';
import { MAX_ATTRIBUTE_VALUE_BYTES, received, toPubsubMessage } from '../src/wire.js';
import { makeDriver, pubsubEnv, uniqueName } from './helpers.js';

const utf8 = (text: string) => new TextEncoder().encode(text);
const signal = new AbortController().signal;
const CORE = {
  'content-type': 'application/json',
  'qk-name': 'resize',
  'qk-attempt': '1',
  'qk-max-attempts': '3',
  'qk-enqueued-at': '1764600000000',
};

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of cleanup.splice(0).reverse()) await close();
});

/** A queue created through a driver, and a client-library topic to publish raw messages to it. */
async function rawTopic(queue: string) {
  const { projectId } = pubsubEnv();
  const admin = makeDriver({ messageOrdering: false });
  await admin.stats(queue); // creates the topic and subscription
  const pubsub = new PubSub({ projectId });
  cleanup.push(async () => {
    await pubsub.close();
    await admin.deleteQueue(queue).finally(() => admin.close());
  });
  return pubsub.topic(queueResources(projectId, '{queue}', '{topic}.qk', queue).topic);
}

async function receiveAll(driver: ReturnType<typeof makeDriver>, queue: string, count: number) {
  const got: Delivery[] = [];
  const deadline = Date.now() + 20_000;
  while (got.length < count && Date.now() < deadline)
    got.push(...(await driver.receive(queue, { max: count, waitMs: 2000, lockMs: 10_000, signal })));
  return got;
}

describe('wire layout: the core headers in one qk-packed attribute', () => {
  const message = (headers: Record<string, string>, name = 'resize'): OutgoingMessage => ({
    id: 'j1',
    name,
    body: utf8('{}'),
    headers,
  });

  it('packs the core headers into qk-packed beside the user headers and qkd-id', () => {
    const out = toPubsubMessage(message({ ...CORE, traceparent: 't-1' }));
    expect(Object.keys(out.attributes ?? {}).sort()).toEqual(['qk-packed', 'qkd-id', 'traceparent']);
    expect(JSON.parse(out.attributes?.['qk-packed'] ?? '')).toEqual(CORE);
    // Read back, the headers are the ones sent, verbatim.
    expect({ ...received({ ackId: 'a', message: out }).headers }).toEqual({ ...CORE, traceparent: 't-1' });
  });

  it('sends the core headers apart when the packed value would pass 1024 bytes, and reads them the same', () => {
    const long = 'n'.repeat(600);
    const headers = {
      ...CORE,
      'qk-name': long,
      'qk-backoff': JSON.stringify({ type: 'x', pad: 'p'.repeat(560) }),
    };
    const out = toPubsubMessage(message(headers, long));
    expect(Buffer.byteLength(JSON.stringify(headers))).toBeGreaterThan(MAX_ATTRIBUTE_VALUE_BYTES);
    expect(out.attributes).not.toHaveProperty('qk-packed');
    expect(out.attributes?.['qk-name']).toBe(long);
    for (const value of Object.values(out.attributes ?? {}))
      expect(Buffer.byteLength(value)).toBeLessThanOrEqual(MAX_ATTRIBUTE_VALUE_BYTES);
    expect({ ...received({ ackId: 'a', message: out }).headers }).toEqual(headers);
  });

  it('a message with no core headers carries no qk-packed, and the caller headers are not touched', () => {
    const headers = { traceparent: 't-2' };
    const out = toPubsubMessage({ ...message(headers), delayMs: 50 });
    expect(Object.keys(out.attributes ?? {}).sort()).toEqual([
      'qkd-deliver-at',
      'qkd-id',
      'qkd-name',
      'traceparent',
    ]);
    expect(headers).toEqual({ traceparent: 't-2' });
  });
});

describe('messages on the wire', () => {
  it('a message published in the old layout (attributes apart) reads exactly as before', async () => {
    const queue = uniqueName('qk-old-layout');
    const topic = await rawTopic(queue);
    const attributes = {
      ...CORE,
      'qk-attempt': '2',
      'qk-priority': '4',
      traceparent: 't-3',
      'qkd-id': 'old-1',
    };
    await topic.publishMessage({ data: Buffer.from('{"v":1}'), attributes });
    const driver = makeDriver({ messageOrdering: false });
    cleanup.push(() => driver.close());
    const [got] = await receiveAll(driver, queue, 1);
    expect(got?.id).toBe('old-1');
    const { 'qkd-id': _, ...headers } = attributes;
    expect({ ...got?.headers }).toEqual(headers);
    await got?.ack();
  });

  it('old-layout and packed messages run through a queue alike: name, data, attempt, user headers', async () => {
    const queue = uniqueName('qk-mixed');
    const topic = await rawTopic(queue);
    await topic.publishMessage({
      data: Buffer.from('{"v":1}'),
      attributes: { ...CORE, traceparent: 't-4', 'qkd-id': 'old-2' },
    });
    const q = createQueue<{ v: number }>({
      name: queue,
      driver: makeDriver({ messageOrdering: false }),
      ownsDriver: true,
    });
    cleanup.push(() => q.close({ timeout: 1000 }));
    const id = await q.send('resize', { v: 2 }, { headers: { traceparent: 't-5' } });
    const jobs: Job<{ v: number }>[] = [];
    q.process(async (job) => {
      jobs.push(job);
    });
    await until('both jobs', 20_000, async () => (jobs.length >= 2 ? true : undefined));
    const seen = jobs.map((j) => ({
      id: j.id,
      name: j.name,
      data: j.data,
      attempt: j.attempt,
      headers: { ...j.headers },
    }));
    expect(seen.sort((a, b) => a.data.v - b.data.v)).toEqual([
      { id: 'old-2', name: 'resize', data: { v: 1 }, attempt: 1, headers: { traceparent: 't-4' } },
      { id, name: 'resize', data: { v: 2 }, attempt: 1, headers: { traceparent: 't-5' } },
    ]);
  });

  const FORGED = [
    'not json',
    '{"qk-attempt":',
    '[]',
    'null',
    '{"qk-attempt":5}',
    '{"qk-attempt":"9","x-user":"y"}',
    '{"__proto__":{"qk-attempt":"9"}}',
    JSON.stringify({ 'qk-packed': JSON.stringify({ 'qk-packed': '{}' }) }),
    `{${'"qk-a":"b",'.repeat(80)}"qk-z":"1"}`,
  ];

  it('a forged qk-packed stays as it came: the driver does not crash, and the other headers read as sent', async () => {
    const queue = uniqueName('qk-forged-packed');
    const topic = await rawTopic(queue);
    for (const [i, packed] of FORGED.entries())
      await topic.publishMessage({
        data: Buffer.from('{}'),
        attributes: { 'qkd-id': `f${i}`, 'qk-attempt': '1', 'qk-packed': packed },
      });
    const driver = makeDriver({ messageOrdering: false });
    cleanup.push(() => driver.close());
    const got = await receiveAll(driver, queue, FORGED.length);
    expect(got.map((d) => d.id).sort()).toEqual(FORGED.map((_, i) => `f${i}`).sort());
    for (const delivery of got) {
      const packed = FORGED[Number(delivery.id.slice(1))] as string;
      const headers = { ...delivery.headers };
      expect(Object.getPrototypeOf(delivery.headers)).toBe(null);
      if (packed.startsWith('{"qk-packed"'))
        // A well-formed entry is unpacked once, never again.
        expect(headers).toEqual({ 'qk-attempt': '1', 'qk-packed': JSON.stringify({ 'qk-packed': '{}' }) });
      else if (packed.startsWith('{"qk-a"'))
        expect(headers).toEqual({ 'qk-attempt': '1', 'qk-a': 'b', 'qk-z': '1' });
      else expect(headers).toEqual({ 'qk-attempt': '1', 'qk-packed': packed });
      await delivery.ack();
    }
  });

  it('a job with a forged qk-packed runs once per attempt, counted from 1, and a retry is attempt 2', async () => {
    const queue = uniqueName('qk-forged-run');
    const topic = await rawTopic(queue);
    for (const [i, packed] of FORGED.entries())
      await topic.publishMessage({
        data: Buffer.from(`{"i":${i}}`),
        attributes: { ...CORE, 'qkd-id': `r${i}`, 'qk-packed': packed },
      });
    const q = createQueue<{ i: number }>({
      name: queue,
      driver: makeDriver({ messageOrdering: false }),
      ownsDriver: true,
    });
    cleanup.push(() => q.close({ timeout: 1000 }));
    const runs: string[] = [];
    q.process(
      async (job) => {
        runs.push(`${job.id}@${job.attempt}`);
        if (job.attempt === 1) throw new Error('once');
      },
      { concurrency: 4 },
    );
    const expected = FORGED.flatMap((_, i) => [`r${i}@1`, `r${i}@2`]).sort();
    await until('every job twice', 30_000, async () => (runs.length >= expected.length ? true : undefined));
    await q.close({ timeout: 1000 });
    // Each job twice (attempts 1 and 2), none three times or counted from another number.
    expect([...runs].sort()).toEqual(expected);
  });
});
