import { randomBytes } from 'node:crypto';
import { binaryCodec, type Job, utf8 } from '@queuekit/core';
import { expect, it } from 'vitest';
import { deferred, type Harness, until } from '../harness.js';

/** Round trips, crash redelivery, concurrency and volume. */
export function deliveryCases(h: Harness): void {
  it('round trip keeps id, name, unicode data, headers and metadata', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ text: string; n: number; nested: { list: number[] } }>(name);
    const data = { text: 'héllo 🌍 日本語 \u0000 "quotes" \\ end', n: 42.5, nested: { list: [1, 2, 3] } };
    const before = Date.now();
    const id = await queue.send('greet', data, {
      headers: { traceparent: '00-abc-def-01', 'x-tenant': 'ü' },
    });
    const got = deferred<Job<typeof data>>();
    queue.process(async (job) => got.resolve(job));
    const job = await got.promise;
    expect(job.id).toBe(id);
    expect(job.name).toBe('greet');
    expect(job.data).toEqual(data);
    expect(job.headers).toMatchObject({ traceparent: '00-abc-def-01', 'x-tenant': 'ü' });
    expect(Object.keys(job.headers).some((key) => key.startsWith('qk-'))).toBe(false);
    expect(job.attempt).toBe(1);
    expect(job.maxAttempts).toBe(3);
    expect(job.enqueuedAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(job.enqueuedAt.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('a payload near the size limit arrives intact', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ blob: string }>(name);
    const size = Math.min(h.capabilities.maxPayloadBytes, 4 * 1024 * 1024) - 4096;
    const blob = `${'x'.repeat(size - 20)}end-marker-ü`;
    await queue.send('big', { blob });
    const got = deferred<string>();
    queue.process(async (job) => got.resolve(job.data.blob));
    const received = await got.promise;
    expect(received.length).toBe(blob.length);
    expect(received).toBe(blob);
  });

  it('binary payloads round-trip through a codec', async () => {
    const name = h.queueName();
    const queue = await h.queue<Uint8Array>(name, { codec: binaryCodec });
    const bytes = new Uint8Array([...Array.from({ length: 256 }, (_, i) => i), ...randomBytes(512)]);
    await queue.send('bin', bytes);
    const got = deferred<Uint8Array>();
    queue.process(async (job) => got.resolve(job.data));
    expect(Buffer.from(await got.promise).equals(Buffer.from(bytes))).toBe(true);
  });

  it('a job whose worker dies mid-job is delivered again after the lock expires (at-least-once)', async () => {
    const name = h.queueName();
    const crashed = await h.queue<{ n: number }>(name);
    const started = deferred<string>();
    crashed.process(
      (job) => {
        started.resolve(job.id);
        return new Promise<never>(() => {
          // Never settles: the worker "dies" holding the job.
        });
      },
      { lockDuration: h.lockMs },
    );
    const id = await crashed.send('work', { n: 1 });
    expect(await started.promise).toBe(id);
    await crashed.close({ timeout: 0 });

    const survivor = await h.queue<{ n: number }>(name);
    const again = deferred<Job<{ n: number }>>();
    survivor.process(async (job) => again.resolve(job), { lockDuration: h.lockMs });
    const job = await again.promise;
    expect(job.id).toBe(id);
    expect(job.data).toEqual({ n: 1 });
    expect(job.attempt).toBe(2);
  });

  it('never has more than `concurrency` jobs in flight, and uses all of it', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ i: number }>(name);
    await queue.sendBatch(Array.from({ length: 12 }, (_, i) => ({ name: 'c', data: { i } })));
    let inFlight = 0;
    let max = 0;
    let done = 0;
    const full = deferred();
    queue.process(
      async () => {
        inFlight++;
        max = Math.max(max, inFlight);
        if (inFlight === 3) full.resolve();
        // Hold each job until the consumer is full once (or a deadline passes), then release.
        await Promise.race([full.promise, new Promise((resolve) => setTimeout(resolve, h.timeout(5000)))]);
        inFlight--;
        done++;
      },
      { concurrency: 3 },
    );
    await until('12 jobs done', h.timeout(30_000), () => done === 12);
    expect(max).toBe(3);
  });

  it('1,000 jobs through three consumers are each processed exactly once', async () => {
    const name = h.queueName();
    const producer = await h.queue<{ i: number }>(name);
    const ids = await producer.sendBatch(
      Array.from({ length: 1000 }, (_, i) => ({ name: 'bulk', data: { i } })),
    );
    expect(new Set(ids).size).toBe(1000);
    const seen = new Map<string, number>();
    for (let c = 0; c < 3; c++) {
      const consumer = await h.queue<{ i: number }>(name);
      consumer.process(
        async (job) => {
          seen.set(job.id, (seen.get(job.id) ?? 0) + 1);
        },
        { concurrency: 10 },
      );
    }
    await until('1,000 distinct jobs', h.timeout(120_000), () => seen.size === 1000, 50);
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
    expect([...seen.keys()].sort()).toEqual([...ids].sort());
  });

  it('an undecodable raw message is dead-lettered as `undecodable` and the worker goes on', async () => {
    const name = h.queueName();
    const driver = await h.driver();
    await driver.send(name, [
      {
        id: 'raw-garbage',
        name: 'raw',
        body: new Uint8Array([0xff, 0xfe, ...utf8('{not json')]),
        headers: {},
      },
    ]);
    const queue = await h.queue<{ ok: boolean }>(name);
    const dead = deferred<{ id: string; reason: string }>();
    queue.on('dead-lettered', (info) => dead.resolve(info));
    const completed = deferred<boolean>();
    queue.process(async (job) => completed.resolve(job.data.ok));
    const info = await dead.promise;
    expect(info.reason).toBe('undecodable');
    await queue.send('fine', { ok: true });
    expect(await completed.promise).toBe(true);
    const [record] = await until('the dead letter listed', h.timeout(10_000), async () => {
      const list = await queue.deadLetters.list();
      return list.length > 0 ? list : undefined;
    });
    expect(record?.reason).toBe('undecodable');
    expect(record?.data).toBeUndefined();
  });
}
