import { inspect } from 'node:util';
import { createQueue, utf8 } from '@queuekit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullmqDriver } from '../src/index.js';
import { parseRedisUrl } from '../src/options.js';
import { adminRedis, deletePrefix, eventually, uniquePrefix, uniqueQueue } from './helpers.js';

// Passwords as they come from base64 keys and password managers: `/`, `%`, `#` and spaces.
const USER = `qk-h6-${process.pid}`;
const PASSWORD = 'S3ntinel/pa%ss#word with spaces+=';
const ENCODED = encodeURIComponent(PASSWORD);
const WRONG = 'Wr0ng/sentinel%pass#word x';
const url = (password: string) => `redis://${USER}:${encodeURIComponent(password)}@127.0.0.1:6379`;
const prefix = uniquePrefix('secrets');

/** Every form the secret could take in output. */
function leaks(text: string, secret = PASSWORD): string[] {
  const forms = [secret, encodeURIComponent(secret), secret.split('/')[0] as string, 'pa%ss#word'];
  return forms.filter((form) => text.includes(form));
}
const deep = (value: unknown) => inspect(value, { depth: 10, showHidden: false });

beforeAll(async () => {
  const admin = adminRedis();
  try {
    await admin.call('ACL', 'SETUSER', USER, 'reset', 'on', `>${PASSWORD}`, '~*', '&*', '+@all');
  } finally {
    admin.disconnect();
  }
});
afterAll(async () => {
  const admin = adminRedis();
  try {
    await admin.call('ACL', 'DELUSER', USER);
  } finally {
    admin.disconnect();
  }
  await deletePrefix(prefix);
});

describe('secrets stay out of output', () => {
  it('the password authenticates (the sentinel reaches Redis intact)', async () => {
    const driver = new BullmqDriver({ url: url(PASSWORD), prefix });
    try {
      expect(await driver.stats(uniqueQueue())).toMatchObject({ waiting: 0 });
    } finally {
      await driver.close();
    }
  });

  it('drivers, queues, deliveries and job.raw show no password under inspect or JSON', async () => {
    const driver = new BullmqDriver({ url: url(PASSWORD), prefix });
    const name = uniqueQueue('sec');
    const queue = createQueue<{ n: number }>({ driver, name });
    try {
      await queue.send('job', { n: 1 });
      const seen: unknown[] = [];
      queue.process(
        async (job) => {
          seen.push(deep(job), deep(job.raw), JSON.stringify(job.raw ?? null));
        },
        { concurrency: 1 },
      );
      await eventually('the job to run', () => (seen.length > 0 ? true : undefined));
      for (const [i, text] of seen.entries()) expect([i, leaks(String(text))]).toEqual([i, []]);
      expect(leaks(deep(driver))).toEqual([]);
      expect(leaks(JSON.stringify(driver))).toEqual([]);
      expect(leaks(deep(await queue.driver()))).toEqual([]);
      expect(leaks(deep(queue))).toEqual([]);
      expect(leaks(deep(driver.workflows))).toEqual([]);
      // The queue's consumer stops first, so that the next job is ours to receive.
      await queue.close();
      await driver.send(name, [{ id: 'raw-1', name: 'r', body: utf8('{}'), headers: {} }]);
      const [raw] = await driver.receive(name, {
        max: 1,
        waitMs: 5000,
        lockMs: 5000,
        signal: new AbortController().signal,
      });
      expect(raw).toBeDefined();
      expect(leaks(deep(raw))).toEqual([]);
      expect(leaks(deep(raw?.raw))).toEqual([]);
      expect(leaks(JSON.stringify(raw?.raw))).toEqual([]);
    } finally {
      await queue.close();
      await driver.close();
    }
  });

  it('a failed AUTH reaches onError and callers without the password, through every cause', async () => {
    const errors: Error[] = [];
    const driver = new BullmqDriver({
      url: url(WRONG),
      prefix,
      onError: (error) => errors.push(error),
      redis: { retryStrategy: (times) => (times > 2 ? null : 10) },
    });
    try {
      const failure = await driver.stats(uniqueQueue()).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect((failure as { code?: string }).code).toBe('ERR_AUTH');
      await eventually('onError to see the AUTH failure', () => (errors.length > 0 ? true : undefined));
      for (const error of [failure, ...errors]) {
        expect(leaks(deep(error), WRONG)).toEqual([]);
        expect(leaks(JSON.stringify(error), WRONG)).toEqual([]);
        expect(leaks(String((error as Error).stack), WRONG)).toEqual([]);
      }
    } finally {
      await driver.close();
    }
  });

  it('a bad URL is a ConfigError that does not echo it', () => {
    let thrown: unknown;
    try {
      new BullmqDriver({ url: `redis://${USER}:${ENCODED}@[bad host/` });
    } catch (error) {
      thrown = error;
    }
    expect((thrown as { code?: string }).code).toBe('ERR_CONFIG');
    expect(leaks(deep(thrown))).toEqual([]);
  });

  it('rediss:// in any case turns TLS on explicitly', () => {
    for (const scheme of ['rediss', 'REDISS', 'Rediss']) {
      expect(parseRedisUrl(`${scheme}://h.example:6380/2`).redis).toMatchObject({
        host: 'h.example',
        port: 6380,
        db: 2,
        tls: { servername: 'h.example' },
      });
    }
    expect(parseRedisUrl('REDIS://h.example').redis.tls).toBeUndefined();
  });

  it('a password that was never percent-encoded is kept as it is, not a URIError', () => {
    expect(parseRedisUrl('redis://app:50%off@127.0.0.1').redis.password).toBe('50%off');
    expect(parseRedisUrl(`redis://app:${ENCODED}@127.0.0.1`).redis.password).toBe(PASSWORD);
  });
});
