import { createQueue, MAX_ERROR_TEXT, type OutgoingMessage, utf8 } from '@queuekit/core';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import type { BullmqDriver } from '../src/index.js';
import { adminRedis, deletePrefix, eventually, testDriver, uniquePrefix, uniqueQueue } from './helpers.js';

const prefix = uniquePrefix('hostile');
const closers: { close(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.allSettled(closers.map((c) => c.close()));
  await deletePrefix(prefix);
});

function driver(): BullmqDriver {
  const d = testDriver(prefix);
  closers.push(d);
  return d;
}

/** A producer that writes BullMQ jobs directly, as another service (or an attacker) could. */
function plainQueue(name: string): Queue {
  const q = new Queue(name, { connection: adminRedis(), prefix });
  closers.push({ close: async () => q.close().then(() => q.disconnect()) });
  return q;
}

const signal = new AbortController().signal;
const message = (id: string, extra: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  id,
  name: 'job',
  body: utf8(JSON.stringify({ id })),
  headers: { 'content-type': 'application/json' },
  ...extra,
});

/** Receive until `count` deliveries arrived or a receive comes back empty. */
async function drain(d: BullmqDriver, queue: string, count: number) {
  const out = [];
  while (out.length < count) {
    const got = await d.receive(queue, { max: count - out.length, waitMs: 3000, lockMs: 10_000, signal });
    if (got.length === 0) break;
    out.push(...got);
  }
  return out;
}

describe('BullMQ job ids are escaped injectively', () => {
  it.each([
    ['1', 'qk-1'],
    ['a:b', 'qk-a%3Ab'],
    ['qk-1', 'qk-qk-1'],
  ])('dedup sends of %j and %j are two jobs', async (first, second) => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [message(first, { dedup: true })]);
    await d.send(queue, [message(second, { dedup: true })]);
    const got = await drain(d, queue, 2);
    expect(got.map((delivery) => delivery.id).sort()).toEqual([first, second].sort());
    await Promise.all(got.map((delivery) => delivery.ack()));
  });

  it('a second dedup send of the same id is still dropped', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [message('qk-9', { dedup: true })]);
    await d.send(queue, [message('qk-9', { dedup: true })]);
    expect((await d.stats(queue)).waiting).toBe(1);
  });

  it('reads jobs written under the old escape (queuekit id "qk-x" stored as BullMQ id "qk-x")', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await plainQueue(queue).add('job', { old: true }, {
      jobId: 'qk-legacy',
      queuekit: { v: 1, h: { 'content-type': 'application/json' } },
    } as never);
    expect(await d.workflows.jobs?.get(queue, 'qk-legacy')).toMatchObject({ state: 'waiting' });
    const [delivery] = await drain(d, queue, 1);
    expect(delivery?.id).toBe('qk-legacy');
    await delivery?.ack();
  });
});

describe('redrive', () => {
  it('moves each dead letter once, even when a consumer dead-letters the copies during the redrive', async () => {
    const d = driver();
    const queue = uniqueQueue();
    const count = 50;
    await d.send(
      queue,
      Array.from({ length: count }, (_, i) => message(`doomed-${i}`)),
    );
    for (const delivery of await drain(d, queue, count))
      await delivery.deadLetter({ reason: 'unrecoverable' });
    // A consumer that dead-letters every copy as soon as it arrives, while the redrive runs.
    const controller = new AbortController();
    let again = 0;
    const consumer = (async () => {
      while (!controller.signal.aborted) {
        const got = await d.receive(queue, {
          max: 10,
          waitMs: 50,
          lockMs: 10_000,
          signal: controller.signal,
        });
        for (const delivery of got) {
          await delivery.deadLetter({ reason: 'unrecoverable' });
          again++;
        }
      }
    })();
    const moved = await d.redriveDeadLetters(queue, { headers: {} });
    await eventually('every copy dead-lettered again', () => (again >= count ? true : undefined));
    controller.abort();
    await consumer;
    expect(moved).toBe(count);
    expect(again).toBe(count);
    expect((await d.stats(queue)).deadLettered).toBe(count);
  });
});

describe('bounds', () => {
  it('error text stored with a dead letter is capped (MAX_ERROR_TEXT), with a marker saying how long it was', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [message('huge-error')]);
    const [delivery] = await drain(d, queue, 1);
    await delivery?.deadLetter({ reason: 'max-attempts', error: 'x'.repeat(1_000_000), attempts: 3 });
    const [dead] = await d.listDeadLetters(queue, 1);
    expect(dead?.error?.length).toBeLessThanOrEqual(MAX_ERROR_TEXT);
    expect(dead?.error).toMatch(/1000000 characters, cut\]$/);
  });

  it.each([
    ['stalledIntervalMs', { stalledIntervalMs: 2 ** 31 }],
    ['limiter.duration', { limiter: { max: 1, duration: 38 * 24 * 3_600_000 } }],
  ])('%s past 2^31 - 1 ms (a timer that would fire at once) is a ConfigError naming it', (field, options) => {
    expect(() => testDriver(prefix, options)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG', field }));
  });

  it.each([
    ['limiter.duration', { limiter: { max: 5 } }],
    ['limiter.max', { limiter: { duration: 1000 } }],
  ])('a limiter without %s is a ConfigError naming it', (field, options) => {
    expect(() => testDriver(prefix, options as never)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', field }),
    );
  });
});

describe('forged headers in opts.queuekit', () => {
  it('come back as own string headers only: `__proto__` is just a name, never a prototype', async () => {
    const d = driver();
    const queue = uniqueQueue('forged-headers');
    // As JSON.parse reads it: `__proto__` an own key, values of other types beside the strings.
    const h = JSON.parse(
      '{"__proto__":{"polluted":"yes"},"constructor":"c","toString":"t","n":5,"x-ok":"1"}',
    );
    await plainQueue(queue).add('job', { a: 1 }, { queuekit: { v: 1, h } } as never);
    await plainQueue(queue).add('job', { a: 2 }, {
      queuekit: { v: 1, h: JSON.parse('{"__proto__":"just-a-name"}') },
    } as never);
    const got = await drain(d, queue, 2);
    expect(got).toHaveLength(2);
    const [first, second] = got.sort((a, b) => a.id.localeCompare(b.id)).map((delivery) => delivery.headers);
    expect(Object.getPrototypeOf(first)).toBe(Object.prototype);
    expect((first as Record<string, unknown>).polluted).toBeUndefined();
    expect(first).toEqual({
      constructor: 'c',
      toString: 't',
      'x-ok': '1',
      'content-type': 'application/json',
      'qk-name': 'job',
    });
    expect(Object.getOwnPropertyDescriptor(second, '__proto__')?.value).toBe('just-a-name');
    expect(Object.getPrototypeOf(second)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await Promise.all(got.map((delivery) => delivery.ack()));
  });
});

describe('forged fan-out meta on a BullMQ job', () => {
  async function forge(queue: string, jobId: string, f: unknown, record?: Record<string, string>) {
    if (record) {
      const admin = adminRedis();
      try {
        await admin.hset(String(f), record);
      } finally {
        admin.disconnect();
      }
    }
    await plainQueue(queue).add('reduce', { parentId: 'x', results: [], failed: [] }, {
      jobId,
      queuekit: { v: 1, h: { 'content-type': 'application/json' }, f },
    } as never);
  }

  it('is dead-lettered with reason invalid-fan-out, never delivered, and the worker goes on', async () => {
    const d = driver();
    const queue = uniqueQueue('reduce');
    const own = (id: string) => `${prefix}:${queue}:${id}`;
    const other = uniqueQueue('chunks');
    // A key outside the fan-out records.
    await forge(queue, 'f-outside-reduce', `${prefix}:${queue}:meta`);
    // Not a string.
    await forge(queue, 'f-type-reduce', { evil: true });
    // A well-formed record key whose record names another parent.
    await forge(queue, 'f-parent-reduce', `${prefix}:${other}:qk:fan:f-parent`, {
      parent: `${prefix}:${queue}:someone-else-reduce`,
      n: '2',
      id: 'f-parent',
    });
    // Everything right but a huge chunk count (one such job once took 1.5 GB of heap).
    await forge(queue, 'f-huge-reduce', `${prefix}:${other}:qk:fan:f-huge`, {
      parent: own('f-huge-reduce'),
      n: '2000000',
      id: 'f-huge',
    });
    // A record key of the wrong Redis type.
    const admin = adminRedis();
    await admin.set(`${prefix}:${other}:qk:fan:f-string`, 'x');
    admin.disconnect();
    await forge(queue, 'f-string-reduce', `${prefix}:${other}:qk:fan:f-string`);
    await d.send(queue, [message('after-the-forged-ones')]);

    const got = await drain(d, queue, 6);
    expect(got.map((delivery) => delivery.id)).toEqual(['after-the-forged-ones']);
    await got[0]?.ack();
    const dead = await d.listDeadLetters(queue, 10);
    expect(dead.map((entry) => [entry.id, entry.reason]).sort()).toEqual(
      ['f-huge-reduce', 'f-outside-reduce', 'f-parent-reduce', 'f-string-reduce', 'f-type-reduce']
        .sort()
        .map((id) => [id, 'invalid-fan-out']),
    );
  });
});

describe('a BullMQ job whose stored data is not JSON', () => {
  /** A job added by plain BullMQ, its `data` field then overwritten with text that is not JSON. */
  async function corrupt(queue: string, jobId: string, text: string): Promise<void> {
    await plainQueue(queue).add('job', { placeholder: true }, { jobId });
    const admin = adminRedis();
    try {
      await admin.hset(`${prefix}:${queue}:${jobId}`, 'data', text);
    } finally {
      admin.disconnect();
    }
  }

  it('is delivered with its stored text as the body (not a failed receive), and peeked and listed', async () => {
    const d = driver();
    const queue = uniqueQueue('corrupt');
    await corrupt(queue, 'not-json', 'this is {not json');
    expect((await d.peek(queue, 10)).map((m) => Buffer.from(m.body).toString())).toEqual([
      'this is {not json',
    ]);
    await d.send(queue, [message('after-the-corrupt-one')]);
    const got = await drain(d, queue, 2);
    expect(got.map((delivery) => delivery.id).sort()).toEqual(['after-the-corrupt-one', 'not-json']);
    const bad = got.find((delivery) => delivery.id === 'not-json');
    expect(Buffer.from(bad?.body ?? []).toString()).toBe('this is {not json');
    await bad?.deadLetter({ reason: 'undecodable', error: 'not JSON', attempts: 1 });
    await got.find((delivery) => delivery.id === 'after-the-corrupt-one')?.ack();
    const dead = await d.listDeadLetters(queue, 10);
    expect(dead.map((entry) => [entry.id, entry.reason])).toEqual([['not-json', 'undecodable']]);
    expect(Buffer.from(dead[0]?.body ?? []).toString()).toBe('this is {not json');
  });

  it('is dead-lettered as undecodable by a Queue, which goes on with the next job', async () => {
    const queue = uniqueQueue('corrupt');
    await corrupt(queue, 'not-json', '{"cut": "short');
    const consumer = createQueue({ name: queue, driver: driver() });
    closers.push(consumer);
    const errors: unknown[] = [];
    consumer.on('error', (error) => errors.push(error));
    const done: string[] = [];
    consumer.process(async (job) => {
      done.push(job.id);
    });
    await consumer.send('job', { good: true }, { jobId: 'good-one' });
    const dead = await eventually('the corrupt job dead-lettered and the good one done', async () => {
      const listed = await consumer.deadLetters.list();
      return listed.length > 0 && done.length > 0 ? listed : undefined;
    });
    expect(dead.map((entry) => [entry.id, entry.reason])).toEqual([['not-json', 'undecodable']]);
    expect(done).toEqual(['good-one']);
    expect(errors).toEqual([]);
  });
});
