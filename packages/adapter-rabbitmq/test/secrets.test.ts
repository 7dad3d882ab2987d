import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import {
  AuthenticationError,
  ConfigError,
  createQueue,
  DriverError,
  type Job,
  QueuekitError,
} from '@queuekit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRabbitMqDriver, RabbitMqDriver } from '../src/index.js';
import { classifyError } from '../src/errors.js';
import { resolveOptions } from '../src/options.js';
import { Resources, until, vhost } from './helpers.js';
import { rabbitmqctl } from './rabbitmqctl.js';

/** A password with every character that URL handling tends to get wrong. */
const PASSWORD = `s3/cr%t#pa ss-${randomUUID().slice(0, 6)}`;
const USER = `qk-sentinel-${randomUUID().slice(0, 8)}`;
const urlWith = (password: string) =>
  `amqp://${USER}:${encodeURIComponent(password)}@127.0.0.1:5672/${vhost}`;

/** Every spelling of `password` a leak could take. */
function spellings(password: string): string[] {
  return [password, encodeURIComponent(password), escape(password), password.replace(/ /g, '+')];
}

/** Fail if any spelling of `password` appears in `util.inspect` or `JSON.stringify` of `values`. */
function expectNoSecret(password: string, values: Record<string, unknown>): void {
  for (const [what, value] of Object.entries(values)) {
    const shown = [inspect(value, { depth: 10, showHidden: true }), safeJson(value), String(value)];
    for (const text of shown) {
      for (const secret of spellings(password)) {
        expect(text.includes(secret), `${what} shows the password`).toBe(false);
      }
    }
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch (error) {
    return `unserialisable: ${(error as Error).message}`;
  }
}

describe.skipIf(vhost === '')('secrets', () => {
  const resources = new Resources();
  beforeAll(async () => {
    await rabbitmqctl(['add_user', USER, PASSWORD]);
    await rabbitmqctl(['set_permissions', '-p', vhost, USER, '.*', '.*', '.*']);
  });
  afterAll(async () => {
    await resources.cleanup();
    await rabbitmqctl(['delete_user', USER]);
  });

  it('drivers, jobs, raw messages and errors never show the password (`/`, `%`, `#`, spaces)', async () => {
    const name = resources.queue('secret');
    const url = urlWith(PASSWORD);
    const driver = await createRabbitMqDriver({ url });
    const queue = createQueue<{ n: number }>({ name, driver });
    const jobs: Job<{ n: number }>[] = [];
    queue.process(async (job) => {
      jobs.push(job);
    });
    await queue.send('work', { n: 1 });
    await until('the job ran', 15_000, () => jobs.length === 1);
    // An error the broker reports: the queue exists with other arguments.
    const mismatch = await createRabbitMqDriver({ url, queueType: 'quorum' });
    const declareError = await mismatch.stats(name).catch((error: unknown) => error);
    expect(declareError).toBeInstanceOf(ConfigError);
    expectNoSecret(PASSWORD, {
      driver,
      'queue.driver()': await queue.driver(),
      'driver.connection': driver.connection,
      job: jobs[0],
      'job.raw': jobs[0]?.raw,
      declareError,
      queue,
    });
    await mismatch.close();
    await queue.close();
    await driver.close();
  });

  it('a wrong password fails at once with AuthenticationError naming the broker, not the password', async () => {
    const wrong = `wr/ng%p#ss word-${randomUUID().slice(0, 6)}`;
    const driver = new RabbitMqDriver({ url: urlWith(wrong), unavailableTimeoutMs: 600_000 });
    const reasons: string[] = [];
    driver.connection.on('connect-failed', (reason) => reasons.push(reason));
    // Without fail-fast this waits for unavailableTimeoutMs (10 min), far past the test's timeout.
    const error = await driver.connect().catch((e: unknown) => e);
    await driver.close();
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ code: 'ERR_AUTH', broker: 'amqp://127.0.0.1:5672' });
    expect((error as Error).message).toMatch(/refused the login/);
    expectNoSecret(wrong, { error, reasons, driver });
  });

  it('a queue made from a URL with a wrong password fails its driver() with AuthenticationError, not a retry loop', async () => {
    const wrong = `wr/ng%p#ss word-${randomUUID().slice(0, 6)}`;
    const queue = createQueue({ name: `qk-auth-${randomUUID().slice(0, 6)}`, url: urlWith(wrong) });
    const error = await queue.driver().then(
      () => undefined,
      (e: unknown) => e,
    );
    await queue.close({ timeout: 1000 });
    // The registry loads the built package, whose core may be another copy: checked by code.
    expect(QueuekitError.is(error, 'ERR_AUTH')).toBe(true);
    expect(error).toMatchObject({ code: 'ERR_AUTH', broker: 'amqp://127.0.0.1:5672' });
    expectNoSecret(wrong, { error, queue });
  });

  it('a user without permissions on the vhost fails at once with AuthenticationError', async () => {
    const stranger = `qk-noperm-${randomUUID().slice(0, 8)}`;
    await rabbitmqctl(['add_user', stranger, PASSWORD]);
    try {
      const url = `amqp://${stranger}:${encodeURIComponent(PASSWORD)}@127.0.0.1:5672/${vhost}`;
      const driver = new RabbitMqDriver({ url, unavailableTimeoutMs: 600_000 });
      const error = await driver.connect().catch((e: unknown) => e);
      await driver.close();
      expect(error).toBeInstanceOf(AuthenticationError);
      expect((error as Error).message).toMatch(/refused to open the vhost/);
      expectNoSecret(PASSWORD, { error });
    } finally {
      await rabbitmqctl(['delete_user', stranger]);
    }
  });

  it('createQueue({ url }) with a wrong password: the first send rejects with AuthenticationError', async () => {
    const wrong = `an0ther/%# secret-${randomUUID().slice(0, 6)}`;
    const queue = createQueue({ name: resources.queue('secret-url'), url: urlWith(wrong) });
    const error = await queue.send('x', {}).catch((e: unknown) => e);
    // The URL registry loads the built package, with its own copy of core: compare by name and code.
    expect(error).toMatchObject({ name: 'AuthenticationError', code: 'ERR_AUTH' });
    expectNoSecret(wrong, { error, queue });
    await queue.close();
  });

  it('a URL that does not parse is a ConfigError that does not echo it', () => {
    const raw = 'amqp://user:pa#ss wo/rd@127.0.0.1:5672/';
    let error: unknown;
    try {
      new RabbitMqDriver({ url: raw });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expectNoSecret('pa#ss wo/rd', { error });
  });
});

describe('classifyError', () => {
  it('strips the URL, password, passphrase and key from message, stack, code and every cause; drops other fields', () => {
    const url = `amqps://app:${encodeURIComponent(PASSWORD)}@broker.example:5671/v`;
    const context = resolveOptions({ url, tls: { passphrase: 'key passphrase 42' } });
    const root = Object.assign(new Error(`socket said ${PASSWORD} for key passphrase 42`), {
      command: { args: [PASSWORD] },
    });
    const middle = new Error(`connect to ${url} failed`, { cause: root });
    const top = Object.assign(
      new Error(`while opening: ${encodeURIComponent(PASSWORD)}`, { cause: middle }),
      {
        code: 'ECONNRESET',
      },
    );
    const scrubbed = classifyError(top, 'send', context);
    expect(scrubbed).toBeInstanceOf(DriverError);
    expectNoSecret(PASSWORD, { scrubbed });
    expect(inspect(scrubbed, { depth: 10 })).not.toContain('key passphrase 42');
    const cause = scrubbed.cause as Error & { code?: string };
    expect(cause.code).toBe('ECONNRESET');
    const rootCopy = (cause.cause as Error).cause as Error;
    expect(rootCopy.message).toBe('socket said *** for ***');
    expect(rootCopy).not.toHaveProperty('command');
  });
});
