import { createQueue } from '@queuekit/core';
import { expect, it } from 'vitest';
import { expectError, throwsWith } from '../expect-error.js';
import { type Harness, until } from '../harness.js';
import { emailSchema } from './dead-letters.js';

/** Bad input on the producer side: typed errors, and nothing sent. */
export function validationCases(h: Harness): void {
  /** Send a sentinel, process until it arrives, and return the job names seen. */
  async function namesUpToSentinel(name: string): Promise<string[]> {
    const consumer = await h.queue<unknown>(name);
    const names: string[] = [];
    consumer.process(async (job) => {
      names.push(job.name);
    });
    await consumer.send('sentinel', { ok: true });
    await until('the sentinel', h.timeout(15_000), () => names.includes('sentinel'));
    const stats = await consumer.stats();
    expect(stats.waiting ?? 0).toBe(0);
    return names;
  }

  it('an oversize payload throws PayloadTooLargeError before the network call, and nothing is sent', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ blob: string }>(name);
    const limit = h.capabilities.maxPayloadBytes;
    const error = await queue.send('too-big', { blob: 'x'.repeat(limit + 1) }).catch((e: unknown) => e);
    const tooLarge = expectError(error, 'ERR_PAYLOAD_TOO_LARGE');
    expect(tooLarge.limit).toBe(limit);
    expect(tooLarge.size).toBeGreaterThan(limit);
    expect(await namesUpToSentinel(name)).toEqual(['sentinel']);
  });

  it('a payload failing the schema on send throws SchemaValidationError and nothing is sent', async () => {
    const name = h.queueName();
    const queue = await h.queue<{ email: string }>(name, { schema: emailSchema });
    const error = await queue.send('signup', { email: 'not-an-email' }).catch((e: unknown) => e);
    expect(expectError(error, 'ERR_SCHEMA_VALIDATION').message).toContain('email: expected an email address');
    expect(await namesUpToSentinel(name)).toEqual(['sentinel']);
  });

  it('invalid options are rejected with a ConfigError that names the field', async () => {
    const name = h.queueName();
    const queue = await h.queue<null>(name);
    await expect(queue.send('x', null, { priority: 12 })).rejects.toMatchObject({
      code: 'ERR_CONFIG',
      field: 'options.priority',
    });
    await expect(queue.send('x', null, { delay: -5 })).rejects.toMatchObject({ field: 'options.delay' });
    await expect(queue.send('x', null, { maxAttempts: 0 })).rejects.toMatchObject({
      field: 'options.maxAttempts',
    });
    await expect(queue.send('x', null, { backoff: { type: 'linear' as 'fixed' } })).rejects.toMatchObject({
      field: 'options.backoff.type',
    });
    throwsWith(() => createQueue({ name: 'bad name!', driver: undefined }), 'ERR_CONFIG');
    expect(
      throwsWith(() => queue.process(async () => undefined, { concurrency: 0 }), 'ERR_CONFIG').message,
    ).toMatch(/concurrency/);
    expect(await namesUpToSentinel(name)).toEqual(['sentinel']);
  });
}
