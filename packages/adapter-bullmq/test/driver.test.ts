import {
  BrokerUnavailableError,
  ConfigError,
  LockLostError,
  type OutgoingMessage,
  QueueClosedError,
  utf8,
} from '@queuekit/core';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { type BullmqDriver, createDriver, readMeta } from '../src/index.js';
import { adminRedis, deletePrefix, REDIS_URL, testDriver, uniquePrefix, uniqueQueue } from './helpers.js';

const prefix = uniquePrefix('driver');
const drivers: BullmqDriver[] = [];
function driver(options = {}): BullmqDriver {
  const d = testDriver(prefix, options);
  drivers.push(d);
  return d;
}
afterAll(async () => {
  await Promise.all(drivers.map((d) => d.close()));
  await deletePrefix(prefix);
});

const signal = new AbortController().signal;
/** The BullMQ id of a delivery's job. */
const bullIdOf = (delivery: { raw: unknown } | undefined): string | undefined =>
  (delivery?.raw as { id?: string } | undefined)?.id;
const json = (id: string, value: unknown, extra: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  id,
  name: 'job',
  body: utf8(JSON.stringify(value)),
  headers: { 'content-type': 'application/json', 'qk-attempt': '1', 'x-user': 'u' },
  ...extra,
});

describe('BullMQ driver', () => {
  it('a send whose copyOf names a held delivery replaces that job in place; the original ack still resolves', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [json('c-1', { n: 1 })]);
    const [held] = await d.receive(queue, { max: 1, waitMs: 2000, lockMs: 5000, signal });
    expect(held?.deliveryToken).toEqual(expect.any(String));
    const bullId = bullIdOf(held);
    const copy = json('c-1', { n: 1 }, { copyOf: { queue, id: 'c-1', deliveryToken: held?.deliveryToken } });
    await d.send(queue, [{ ...copy, headers: { ...copy.headers, 'qk-attempt': '2' } }]);
    await expect(held?.ack()).resolves.toBeUndefined();
    const [again] = await d.receive(queue, { max: 1, waitMs: 2000, lockMs: 5000, signal });
    expect(again?.id).toBe('c-1');
    expect(bullIdOf(again)).toBe(bullId);
    expect(again?.headers['qk-attempt']).toBe('2');
    await again?.ack();
    const plain = new Queue(queue, { connection: { url: REDIS_URL }, prefix });
    try {
      expect(await plain.getJobCounts('completed', 'wait', 'prioritized', 'delayed')).toEqual({
        completed: 1,
        wait: 0,
        prioritized: 0,
        delayed: 0,
      });
    } finally {
      await plain.close();
    }
  });

  it('a copyOf naming a delivery this driver does not hold adds the copy as a job of its own', async () => {
    const holder = driver();
    const sender = driver();
    const queue = uniqueQueue();
    await holder.send(queue, [json('c-2', { n: 2 })]);
    const [held] = await holder.receive(queue, { max: 1, waitMs: 2000, lockMs: 5000, signal });
    await sender.send(queue, [
      json('c-2', { n: 2 }, { copyOf: { queue, id: 'c-2', deliveryToken: held?.deliveryToken } }),
    ]);
    await held?.ack();
    const [copy] = await holder.receive(queue, { max: 1, waitMs: 2000, lockMs: 5000, signal });
    expect(copy?.id).toBe('c-2');
    expect(bullIdOf(copy)).not.toBe(bullIdOf(held));
    await copy?.ack();
  });

  it('a receive for 50 free slots with one job waiting runs no fetch that finds nothing', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [json('only', { n: 1 })]);
    // Every fetch is BullMQ's moveToActive script; count them while one receive runs.
    const fetches = vi.spyOn(
      Worker.prototype as unknown as { moveToActive: () => Promise<unknown> },
      'moveToActive',
    );
    try {
      const got = await d.receive(queue, { max: 50, waitMs: 2000, lockMs: 5000, signal });
      expect(got.map((delivery) => delivery.id)).toEqual(['only']);
      expect(fetches.mock.calls.length).toBeLessThanOrEqual(2);
      await got[0]?.ack();
    } finally {
      fetches.mockRestore();
    }
  });

  it('a send of core ids (UUIDs) makes no pipeline of its own (an ioredis pipeline costs ~40 µs)', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [json('warm', { n: 0 })]); // connects and loads BullMQ's scripts
    const pipelines = vi.spyOn(Redis.prototype, 'pipeline');
    try {
      await d.send(queue, [json(crypto.randomUUID(), { n: 1 })]);
      expect(pipelines.mock.calls.length).toBe(0);
      // A batch: BullMQ's addBulk makes its one pipeline, and nothing else does.
      await d.send(
        queue,
        [1, 2, 3].map((n) => json(crypto.randomUUID(), { n })),
      );
      expect(pipelines.mock.calls.length).toBe(1);
      // An id BullMQ numbers is still indexed for getJob: one pipeline for that send.
      await d.send(queue, [json('numbered', { n: 4 })]);
      expect(pipelines.mock.calls.length).toBe(2);
      expect((await d.workflows.jobs?.get(queue, 'numbered'))?.state).toBe('waiting');
    } finally {
      pipelines.mockRestore();
    }
  });

  it('stores JSON bodies as real JSON data and headers in opts.queuekit', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [json('a-1', { n: 1, s: 'é' })]);
    const plain = new Queue(queue, { connection: { url: REDIS_URL }, prefix });
    try {
      const [job] = await plain.getJobs(['prioritized', 'wait'], 0, 10);
      expect(job?.data).toEqual({ n: 1, s: 'é' });
      expect(readMeta(job?.opts)).toMatchObject({ h: { 'x-user': 'u' } });
    } finally {
      await plain.close();
    }
    const [delivery] = await d.receive(queue, { max: 1, waitMs: 2000, lockMs: 5000, signal });
    expect(delivery?.id).toBe('a-1');
    expect(new TextDecoder().decode(delivery?.body)).toBe('{"n":1,"s":"é"}');
    expect(delivery?.headers).toEqual({
      'content-type': 'application/json',
      'qk-attempt': '1',
      'x-user': 'u',
    });
    expect(delivery?.deliveryCount).toBe(1);
    await delivery?.ack();
    expect(await d.stats(queue)).toMatchObject({ waiting: 0, active: 0, delayed: 0 });
  });

  it('round-trips non-UTF-8 bytes and non-canonical JSON byte for byte', async () => {
    const d = driver();
    const queue = uniqueQueue();
    const binary = new Uint8Array([0, 255, 128, 10, 13, 1]);
    const spaced = utf8('{ "a" : 1 }');
    await d.send(queue, [
      { id: 'bin', name: 'b', body: binary, headers: { 'content-type': 'application/octet-stream' } },
      { id: 'spaced', name: 's', body: spaced, headers: { 'content-type': 'application/json' } },
    ]);
    const got = await d.receive(queue, { max: 5, waitMs: 2000, lockMs: 5000, signal });
    const byId = new Map(got.map((delivery) => [delivery.id, delivery]));
    expect(Array.from(byId.get('bin')?.body ?? [])).toEqual(Array.from(binary));
    expect(Array.from(byId.get('spaced')?.body ?? [])).toEqual(Array.from(spaced));
    await Promise.all(got.map((delivery) => delivery.ack()));
  });

  it('keeps headers verbatim, including the ones it stores compactly', async () => {
    const d = driver();
    const queue = uniqueQueue();
    const cases: Record<string, string>[] = [
      { 'content-type': 'application/json', 'qk-name': 'job', 'qk-max-attempts': '3' },
      { 'content-type': 'application/json; charset=utf-8', 'qk-max-attempts': '03' },
      { 'content-type': 'application/json', 'qk-name': 'other-name' },
      {},
    ];
    await d.send(
      queue,
      cases.map((headers, i) => ({ id: `h${i}`, name: 'job', body: utf8('{"a":1}'), headers, dedup: true })),
    );
    const got = await d.receive(queue, { max: 10, waitMs: 2000, lockMs: 5000, signal });
    expect(got).toHaveLength(cases.length);
    for (const delivery of got) {
      expect(delivery.headers).toEqual(cases[Number(delivery.id.slice(1))]);
      expect(new TextDecoder().decode(delivery.body)).toBe('{"a":1}');
      await delivery.ack();
    }
  });

  it('gives BullMQ the attempts and backoff the core reads from the headers, which stay verbatim', async () => {
    const d = driver();
    const queue = uniqueQueue();
    const cases: Record<string, Record<string, string>> = {
      ok: { 'qk-max-attempts': '4', 'qk-backoff': '{"type":"fixed","delay":250}' },
      // Beyond the core's 1..1000: the core falls back to the queue's default, so BullMQ gets none.
      many: { 'qk-max-attempts': '5000' },
      // A policy the core refuses: BullMQ gets the default one, as the core uses.
      forged: { 'qk-max-attempts': '2', 'qk-backoff': '{"type":"custom","delay":-5}' },
    };
    await d.send(
      queue,
      Object.entries(cases).map(([id, headers]) => ({
        id,
        name: 'job',
        body: utf8('{}'),
        headers,
        dedup: true,
      })),
    );
    const connection = adminRedis();
    const target = new Queue(queue, { connection, prefix });
    try {
      const opts = async (id: string) => (await target.getJob(id))?.opts;
      expect(await opts('ok')).toMatchObject({ attempts: 4, backoff: { type: 'fixed', delay: 250 } });
      // BullMQ reads an absent `attempts` as 0.
      expect((await opts('many'))?.attempts ?? 0).toBe(0);
      expect((await opts('forged'))?.backoff).toEqual({ type: 'exponential', delay: 1000 });
    } finally {
      await target.close();
      connection.disconnect();
    }
    const got = await d.receive(queue, { max: 10, waitMs: 2000, lockMs: 5000, signal });
    expect(got).toHaveLength(3);
    for (const delivery of got) {
      expect(delivery.headers).toMatchObject(cases[delivery.id] ?? {});
      await delivery.ack();
    }
  });

  it('serves higher priorities first (0-9 mapped onto BullMQ priorities)', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [
      json('p0', 0, { priority: 0 }),
      json('p9', 9, { priority: 9 }),
      json('p5', 5, { priority: 5 }),
      json('none', 'none'),
    ]);
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      const [delivery] = await d.receive(queue, { max: 1, waitMs: 2000, lockMs: 5000, signal });
      if (!delivery) throw new Error('missing delivery');
      order.push(delivery.id);
      await delivery.ack();
    }
    expect(order).toEqual(['p9', 'p5', 'p0', 'none']);
  });

  it('peek lists waiting jobs in serving order without taking them', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [
      json('low', 0, { priority: 1 }),
      json('high', 1, { priority: 8 }),
      json('later', 2, { delayMs: 60_000 }),
    ]);
    const plain = new Queue(queue, { connection: { url: REDIS_URL }, prefix });
    try {
      const foreign = await plain.add('plain', { p: true });
      const peeked = await d.peek(queue, 10);
      expect(peeked.map((m) => m.id)).toEqual([foreign.id, 'high', 'low']);
      expect((await d.peek(queue, 2)).map((m) => m.id)).toEqual([foreign.id, 'high']);
      expect(await d.stats(queue)).toMatchObject({ waiting: 3, active: 0, delayed: 1 });
    } finally {
      await plain.close();
    }
  });

  it('drops duplicates with dedup, accepts same-id copies without it, and maps ids BullMQ refuses', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [json('dup', 1, { dedup: true }), json('dup', 2, { dedup: true })]);
    await d.send(queue, [json('42', 3, { dedup: true }), json('a:b', 4, { dedup: true })]);
    await d.send(queue, [json('dup', 5), json('dup', 6)]);
    const got = await d.receive(queue, { max: 10, waitMs: 2000, lockMs: 5000, signal });
    const bodies = got.map((delivery) => `${delivery.id}=${new TextDecoder().decode(delivery.body)}`).sort();
    expect(bodies).toEqual(['42=3', 'a:b=4', 'dup=1', 'dup=5', 'dup=6']);
    await Promise.all(got.map((delivery) => delivery.ack()));
  });

  it('release puts the job back in place with the delivery count incremented', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [json('r', 1)]);
    const [first] = await d.receive(queue, { max: 1, waitMs: 2000, lockMs: 5000, signal });
    await first?.release?.(100);
    const [second] = await d.receive(queue, { max: 1, waitMs: 3000, lockMs: 5000, signal });
    expect(second?.id).toBe('r');
    expect(second?.deliveryCount).toBe(2);
    await expect(first?.ack()).rejects.toBeInstanceOf(LockLostError);
    await second?.ack();
  });

  it('redelivers after the lock expires; the old holder then gets LockLostError', async () => {
    const a = driver();
    const b = driver();
    const queue = uniqueQueue();
    await a.send(queue, [json('l', 1)]);
    const [held] = await a.receive(queue, { max: 1, waitMs: 2000, lockMs: 500, signal });
    expect(held?.id).toBe('l');
    const [again] = await b.receive(queue, { max: 1, waitMs: 10_000, lockMs: 5000, signal });
    expect(again?.id).toBe('l');
    expect(again?.deliveryCount).toBe(2);
    await expect(held?.ack()).rejects.toBeInstanceOf(LockLostError);
    await expect(held?.extendLock?.(1000)).rejects.toBeInstanceOf(LockLostError);
    await again?.ack();
  });

  it('extendLock keeps the job from being redelivered', async () => {
    const a = driver();
    const b = driver();
    const queue = uniqueQueue();
    await a.send(queue, [json('x', 1)]);
    const [held] = await a.receive(queue, { max: 1, waitMs: 2000, lockMs: 600, signal });
    const stop = new AbortController();
    const other = b.receive(queue, { max: 1, waitMs: 2500, lockMs: 5000, signal: stop.signal });
    const beat = setInterval(() => void held?.extendLock?.(600), 200);
    try {
      expect(await other).toEqual([]);
    } finally {
      clearInterval(beat);
    }
    await held?.ack();
  });

  it('dead-letters into the failed set with reason, error and attempts; lists, redrives, purges', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [json('d1', 1), json('d2', 2)]);
    const got = await d.receive(queue, { max: 2, waitMs: 2000, lockMs: 5000, signal });
    for (const delivery of got)
      await delivery.deadLetter({ reason: 'max-attempts', error: 'boom', attempts: 3 });
    const listed = await d.listDeadLetters(queue, 10);
    expect(listed.map((m) => m.id).sort()).toEqual(['d1', 'd2']);
    expect(listed[0]).toMatchObject({ reason: 'max-attempts', error: 'boom', attempts: 3 });
    expect((await d.stats(queue)).deadLettered).toBe(2);

    expect(
      await d.redriveDeadLetters(queue, { ids: ['d1'], headers: { 'qk-attempt': '1', 'x-new': 'y' } }),
    ).toBe(1);
    const [redriven] = await d.receive(queue, { max: 1, waitMs: 2000, lockMs: 5000, signal });
    expect(redriven?.id).toBe('d1');
    expect(redriven?.deliveryCount).toBe(1);
    expect(redriven?.headers['x-new']).toBe('y');
    await redriven?.ack();
    expect(await d.purgeDeadLetters(queue)).toBe(1);
    expect(await d.listDeadLetters(queue, 10)).toEqual([]);
  });

  it('returns promptly when the signal fires during a long poll', async () => {
    const d = driver();
    const queue = uniqueQueue();
    const stop = new AbortController();
    const started = Date.now();
    const pending = d.receive(queue, { max: 1, waitMs: 20_000, lockMs: 5000, signal: stop.signal });
    setTimeout(() => stop.abort(), 100);
    expect(await pending).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5000);
    // A job sent right after the abort is not stranded under a lock nobody holds.
    await d.send(queue, [json('late', 1)]);
    const [late] = await d.receive(queue, { max: 1, waitMs: 3000, lockMs: 5000, signal });
    expect(late?.id).toBe('late');
    expect(late?.deliveryCount).toBe(1);
    await late?.ack();
  });

  it('applies the BullMQ rate limiter given in the options', async () => {
    const d = driver({ limiter: { max: 3, duration: 1000 } });
    const queue = uniqueQueue();
    await d.send(
      queue,
      Array.from({ length: 6 }, (_, i) => json(`rl-${i}`, i)),
    );
    const takenAt: number[] = [];
    const started = Date.now();
    while (takenAt.length < 6 && Date.now() - started < 10_000) {
      const got = await d.receive(queue, { max: 6, waitMs: 500, lockMs: 5000, signal });
      for (const delivery of got) {
        takenAt.push(Date.now() - started);
        await delivery.ack();
      }
    }
    expect(takenAt).toHaveLength(6);
    // Three in the first window; the fourth only once the window has passed.
    expect(takenAt[2]).toBeLessThan(900);
    expect(takenAt[3]).toBeGreaterThanOrEqual(900);
  });

  it('honours a native delay', async () => {
    const d = driver();
    const queue = uniqueQueue();
    const sentAt = Date.now();
    await d.send(queue, [json('later', 1, { delayMs: 600 })]);
    expect(await d.receive(queue, { max: 1, waitMs: 0, lockMs: 5000, signal })).toEqual([]);
    const [delivery] = await d.receive(queue, { max: 1, waitMs: 5000, lockMs: 5000, signal });
    expect(delivery?.id).toBe('later');
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(600);
    await delivery?.ack();
  });

  it('deleteQueue removes every key of the queue', async () => {
    const d = driver();
    const queue = uniqueQueue();
    await d.send(queue, [json('k', 1)]);
    await d.deleteQueue(queue);
    const redis = adminRedis();
    try {
      expect(await redis.keys(`${prefix}:${queue}:*`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
  });

  it('throws QueueClosedError after close, and close is idempotent', async () => {
    const d = testDriver(prefix);
    await d.send(uniqueQueue(), [json('c', 1)]);
    await d.close();
    await d.close();
    await expect(d.send(uniqueQueue(), [json('c', 1)])).rejects.toBeInstanceOf(QueueClosedError);
  });

  it('close() returns promptly when Redis cannot be reached', async () => {
    const d = createDriver({ url: 'redis://127.0.0.1:1/0' });
    const sending = d.send(uniqueQueue(), [json('never', 1)]).catch((error: unknown) => error);
    const started = Date.now();
    await d.close();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await sending).toBeInstanceOf(BrokerUnavailableError);
  });

  it('parses redis:// and rediss:// URLs without echoing secrets', () => {
    const tls = createDriver({ url: 'rediss://user:s3cret@example.invalid:6380/2?prefix=app' });
    expect(tls.prefix).toBe('app');
    void tls.close();
    let thrown: unknown;
    try {
      createDriver({ url: 'redis://user:s3cret@host:6379/notanumber' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect(String((thrown as Error).message)).not.toContain('s3cret');
    expect(() => createDriver({ url: 'redis://h:1/0?bogus=1' })).toThrow(ConfigError);
  });
});
