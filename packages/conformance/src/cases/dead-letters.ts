import { QueuekitError, type StandardSchemaV1, UnrecoverableError } from '@queuekit/core';
import { expect, it } from 'vitest';
import { deferred, type Harness, until } from '../harness.js';

/** A minimal Standard Schema: `{ email: string }` with an `@`. Libraries like zod produce the same shape. */
export const emailSchema: StandardSchemaV1<unknown, { email: string }> = {
  '~standard': {
    version: 1,
    vendor: 'queuekit-conformance',
    validate(value) {
      const email = (value as { email?: unknown } | null)?.email;
      if (typeof email === 'string' && email.includes('@')) return { value: { email } };
      return { issues: [{ message: 'expected an email address', path: ['email'] }] };
    },
  },
};

/** The dead-letter API and dead-lettering of invalid payloads. */
export function deadLetterCases(h: Harness): void {
  it('lists, redrives (with a fresh attempt count) and purges dead letters', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ i: number }>(
      name,
      {},
      { failures: (e) => e.message.startsWith('poison ') },
    );
    let healed = false;
    const completed: { id: string; attempt: number }[] = [];
    let deadCount = 0;
    queue.on('dead-lettered', () => deadCount++);
    // Dead-lettered at attempt 2, so that a redrive that kept the count would show attempt 3 (or dead-letter).
    queue.process(async (job) => {
      if (!healed) throw new Error(`poison ${job.data.i}`);
      completed.push({ id: job.id, attempt: job.attempt });
    });
    const ids = await queue.sendBatch(
      [0, 1, 2].map((i) => ({
        name: 'dl',
        data: { i },
        options: { maxAttempts: 2, backoff: { type: 'fixed' as const, delay: 50 } },
      })),
    );
    await until('3 dead letters', h.timeout(20_000), () => deadCount === 3);
    const listed = await until('3 listed dead letters', h.timeout(10_000), async () => {
      const records = await queue.deadLetters.list();
      return records.length === 3 ? records : undefined;
    });
    expect(listed.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(
      listed.every((r) => r.reason === 'max-attempts' && r.attempts === 2 && r.error?.startsWith('poison ')),
    ).toBe(true);
    expect(listed.map((r) => r.data?.i).sort()).toEqual([0, 1, 2]);

    healed = true;
    const target = ids[1] as string;
    expect(await queue.deadLetters.redrive([target])).toBe(1);
    await until('the redriven job to complete', h.timeout(20_000), () => completed.length === 1);
    expect(completed).toEqual([{ id: target, attempt: 1 }]);
    const remaining = await until('2 dead letters left', h.timeout(10_000), async () => {
      const records = await queue.deadLetters.list();
      return records.length === 2 ? records : undefined;
    });
    expect(remaining.map((r) => r.id).sort()).toEqual(ids.filter((id) => id !== target).sort());

    expect(await queue.deadLetters.purge()).toBe(2);
    await until(
      'no dead letters',
      h.timeout(10_000),
      async () => (await queue.deadLetters.list()).length === 0,
    );
    expect(completed).toHaveLength(1);
  });

  it('redrive() without ids moves every dead letter back', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ i: number }>(
      name,
      {},
      { failures: (e) => QueuekitError.is(e, 'ERR_UNRECOVERABLE') },
    );
    let healed = false;
    let deadCount = 0;
    const completed = new Set<number>();
    queue.on('dead-lettered', () => deadCount++);
    queue.process(async (job) => {
      if (!healed) throw new UnrecoverableError('not yet');
      completed.add(job.data.i);
    });
    await queue.sendBatch([0, 1].map((i) => ({ name: 'dl', data: { i } })));
    await until('2 dead letters', h.timeout(20_000), () => deadCount === 2);
    await until('2 listed', h.timeout(10_000), async () => (await queue.deadLetters.list()).length === 2);
    healed = true;
    expect(await queue.deadLetters.redrive()).toBe(2);
    await until('both redriven jobs to complete', h.timeout(20_000), () => completed.size === 2);
    expect([...completed].sort()).toEqual([0, 1]);
  });

  it('redrive resets attempts: a job dead-lettered at attempt 2 runs again as 1, 2 and is dead-lettered again', async () => {
    const name = h.queueName();
    const queue = await h.queue<null>(name, {}, { failures: (e) => e.message.startsWith('always ') });
    const attempts: number[] = [];
    let deadCount = 0;
    queue.on('dead-lettered', () => deadCount++);
    queue.process(async (job) => {
      attempts.push(job.attempt);
      throw new Error(`always ${job.attempt}`);
    });
    const id = await queue.send('doomed', null, { maxAttempts: 2, backoff: { type: 'fixed', delay: 50 } });
    await until('the first dead letter', h.timeout(20_000), () => deadCount === 1);
    await until('it is listed', h.timeout(10_000), async () => (await queue.deadLetters.list()).length === 1);
    expect(attempts).toEqual([1, 2]);
    expect(await queue.deadLetters.redrive([id])).toBe(1);
    await until('the second dead letter', h.timeout(20_000), () => deadCount === 2);
    const listed = await until('listed again', h.timeout(10_000), async () => {
      const records = await queue.deadLetters.list();
      return records.length === 1 ? records : undefined;
    });
    expect(attempts).toEqual([1, 2, 1, 2]);
    expect(listed.map((r) => ({ id: r.id, reason: r.reason, attempts: r.attempts, error: r.error }))).toEqual(
      [{ id, reason: 'max-attempts', attempts: 2, error: 'always 2' }],
    );
  });

  it('a payload invalid for the consumer schema is dead-lettered as `invalid-payload`', async () => {
    const name = h.queueName();
    const loose = await h.queue<unknown>(name);
    const strictConsumer = await h.queue<{ email: string }>(name, { schema: emailSchema });
    const dead = deferred<{ reason: string; error?: string }>();
    strictConsumer.on('dead-lettered', (info) => dead.resolve(info));
    const handled: string[] = [];
    strictConsumer.process(async (job) => {
      handled.push(job.data.email);
    });
    await loose.send('signup', { email: 42 });
    const info = await dead.promise;
    expect(info.reason).toBe('invalid-payload');
    expect(info.error).toContain('email');
    await loose.send('signup', { email: 'ada@example.com' });
    await until('the valid job', h.timeout(10_000), () => handled.length === 1);
    expect(handled).toEqual(['ada@example.com']);
  });
}
