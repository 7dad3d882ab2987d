import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { AuthenticationError, ConfigError, createQueue, type Job } from '@queuekit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRabbitMqDriver, RabbitMqDriver, type RabbitMqDriverOptions } from '../src/index.js';
import { queueName, until } from './helpers.js';
import { canStartBroker, startTlsBroker, type TlsBroker } from './tls-broker.js';

/** Send one job through `options`' broker and resolve with it as processed. */
async function moveOneJob(options: RabbitMqDriverOptions): Promise<Job<{ n: number }>> {
  const driver = await createRabbitMqDriver({ unavailableTimeoutMs: 30_000, ...options });
  const name = queueName('tls');
  const queue = createQueue<{ n: number }>({ name, driver });
  try {
    const jobs: Job<{ n: number }>[] = [];
    queue.process(async (job) => {
      jobs.push(job);
    });
    await queue.send('work', { n: 42 });
    await until('the job over TLS', 20_000, () => jobs.length === 1);
    return jobs[0] as Job<{ n: number }>;
  } finally {
    await queue.close();
    await driver.deleteQueue(name);
    await driver.close();
  }
}

/** What connecting with `options` rejects with (no retries until a timeout: refusals fail at once). */
async function connectError(options: RabbitMqDriverOptions): Promise<unknown> {
  const driver = new RabbitMqDriver({ unavailableTimeoutMs: 600_000, ...options });
  try {
    await driver.connect();
    return undefined;
  } catch (error) {
    return error;
  } finally {
    await driver.close();
  }
}

describe.skipIf(!canStartBroker)(
  'amqps:// against a RabbitMQ node with verify_peer and fail_if_no_peer_cert',
  () => {
    let broker: TlsBroker;
    let url: string;
    beforeAll(async () => {
      broker = await startTlsBroker();
      url = `amqps://guest:guest@127.0.0.1:${broker.port}/`;
    }, 120_000);
    afterAll(async () => {
      await broker?.stop();
    }, 60_000);

    it('with the CA and a client certificate as PEM Buffers it connects and moves a job', async () => {
      const job = await moveOneJob({
        url,
        tls: {
          ca: readFileSync(broker.ca),
          cert: readFileSync(broker.clientCert),
          key: readFileSync(broker.clientKey),
        },
      });
      expect(job.data).toEqual({ n: 42 });
    });

    it('with file paths and an encrypted key plus passphrase; neither key nor passphrase is ever shown', async () => {
      const options = {
        url,
        tls: {
          ca: broker.ca,
          cert: broker.clientCert,
          key: broker.encryptedClientKey,
          passphrase: broker.passphrase,
        },
      };
      const job = await moveOneJob(options);
      expect(job.data).toEqual({ n: 42 });
      const driver = new RabbitMqDriver(options);
      const key = readFileSync(broker.encryptedClientKey, 'utf8');
      for (const shown of [inspect(driver, { depth: 10, showHidden: true }), JSON.stringify(driver)]) {
        expect(shown).not.toContain(broker.passphrase);
        expect(shown).not.toContain(key.split('\n')[1]);
      }
      await driver.close();
    });

    it("with RabbitMQ's URL parameters (cacertfile, certfile, keyfile, verify) through createQueue({ url })", async () => {
      const params = new URLSearchParams({
        cacertfile: broker.ca,
        certfile: broker.clientCert,
        keyfile: broker.clientKey,
        verify: 'verify_peer',
      });
      const name = queueName('tls-url');
      const queue = createQueue<{ n: number }>({ name, url: `${url}?${params}` });
      const jobs: Job<{ n: number }>[] = [];
      queue.process(async (job) => {
        jobs.push(job);
      });
      await queue.send('work', { n: 7 });
      await until('the job over TLS', 20_000, () => jobs.length === 1);
      expect(jobs[0]?.data).toEqual({ n: 7 });
      const driver = (await queue.driver()) as RabbitMqDriver;
      await queue.close();
      await driver.deleteQueue?.(name).catch(() => undefined);
    });

    it('without a client certificate the broker refuses the handshake: AuthenticationError at once', async () => {
      const error = await connectError({ url, tls: { ca: broker.ca } });
      expect(error).toBeInstanceOf(AuthenticationError);
      expect(error).toMatchObject({ code: 'ERR_AUTH', broker: `amqps://127.0.0.1:${broker.port}` });
      expect((error as Error).message).toMatch(/refused the TLS handshake/);
    });

    it("with the wrong CA the broker's certificate does not verify: AuthenticationError at once", async () => {
      const error = await connectError({
        url,
        tls: { ca: broker.wrongCa, cert: broker.clientCert, key: broker.clientKey },
      });
      expect(error).toBeInstanceOf(AuthenticationError);
      expect((error as Error).message).toMatch(/does not verify/);
    });

    it('without any CA (Node trusts only public roots) it fails the same way', async () => {
      const error = await connectError({ url, tls: { cert: broker.clientCert, key: broker.clientKey } });
      expect(error).toBeInstanceOf(AuthenticationError);
    });
  },
);

describe('TLS option validation', () => {
  it('refuses TLS options on a plaintext amqp:// URL, half a client certificate and unreadable files', () => {
    expect(() => new RabbitMqDriver({ url: 'amqp://h', tls: { ca: '/nonexistent/ca.pem' } })).toThrow(
      /`tls`.*amqps/,
    );
    expect(() => new RabbitMqDriver({ url: 'amqp://h?cacertfile=/x.pem' })).toThrow(ConfigError);
    expect(
      () => new RabbitMqDriver({ url: 'amqps://h', tls: { cert: '-----BEGIN CERTIFICATE-----\n' } }),
    ).toThrow(/tls\.key/);
    expect(() => new RabbitMqDriver({ url: 'amqps://h', tls: { ca: '/nonexistent/ca.pem' } })).toThrow(
      /`tls\.ca`.*\/nonexistent\/ca\.pem.*ENOENT/,
    );
    expect(() => new RabbitMqDriver({ url: 'amqps://h?verify=maybe' })).toThrow(/verify/);
  });

  it('never echoes a key that is not PEM (it would be read as a path)', () => {
    const notPem = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7';
    let error: unknown;
    try {
      new RabbitMqDriver({ url: 'amqps://h', tls: { cert: '-----BEGIN CERTIFICATE-----\n', key: notPem } });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(inspect(error)).not.toContain(notPem);
  });
});
