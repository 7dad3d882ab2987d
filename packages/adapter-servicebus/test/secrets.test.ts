/**
 * Issue 13: the connection string's key never shows, whatever the key order and whatever characters the
 * key holds: not under util.inspect (depth 10) nor JSON.stringify of the driver, a queue, a received job,
 * its raw SDK message, nor errors (a refused connection, a malformed connection string).
 */
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { until } from '@queuekit/conformance';
import { ConfigError, createQueue, type Job } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createDriver, optionsFromUrl, ServiceBusDriver } from '../src/index.js';
import { connectionString, deleteQueue, target } from './helpers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => undefined);
});

/** Sentinel keys: `/`, `%`, `#`, spaces, `=` padding, a `%xx` that decodes. */
const SENTINELS = ['S3NT/a%b#c d==', 'S3NT%2Fenc%20x#y/z=', 'S3NT key with spaces/and#hash%'];

/** Every order of the four parts. */
function orders<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [items.slice()];
  return items.flatMap((item, index) =>
    orders([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]),
  );
}

function connectionStrings(endpoint: string, key: string): string[] {
  const parts = [
    `Endpoint=${endpoint}`,
    'SharedAccessKeyName=RootManageSharedAccessKey',
    `SharedAccessKey=${key}`,
    'UseDevelopmentEmulator=true',
  ];
  return orders(parts).map((order) => order.join(';'));
}

/** Every text a user could print of `value`. */
function printed(value: unknown): string {
  let json: string;
  try {
    json = JSON.stringify(value) ?? '';
  } catch (error) {
    json = `JSON failed: ${String(error)}`;
  }
  return `${inspect(value, { depth: 10 })}\n${json}\n${String(value)}`;
}

/** The parts of a sentinel that must never appear (the whole key, and its decoded form). */
function expectNoSecret(text: string, key: string): void {
  expect(text).not.toContain(key);
  expect(text).not.toContain(decodeURIComponent(key.replace(/%(?![0-9a-f]{2})/gi, '%25')));
  expect(text).not.toContain('S3NT');
}

const endpoint = /Endpoint=([^;]+)/i.exec(connectionString)?.[1] ?? 'sb://127.0.0.1:5672';

describe('secrets', () => {
  it('the URL parser accepts a connection string in every key order, in any key case', () => {
    for (const cs of connectionStrings('sb://contoso.servicebus.windows.net/', 'k=')) {
      expect(optionsFromUrl(cs)).toEqual({ connectionString: cs });
      const driver = new ServiceBusDriver({ ...optionsFromUrl(cs), allowInsecure: true });
      cleanups.push(() => driver.close());
      expect(driver.toJSON()).toEqual({
        provider: 'servicebus',
        namespace: 'contoso.servicebus.windows.net',
      });
    }
    expect(optionsFromUrl('endpoint=sb://x/;sharedaccesskeyname=a;sharedaccesskey=b')).toHaveProperty(
      'connectionString',
    );
  });

  it('a driver made from any key order prints neither the key nor the connection string', () => {
    for (const key of SENTINELS) {
      for (const cs of connectionStrings(endpoint, key)) {
        const driver = createDriver({ url: cs });
        cleanups.push(() => driver.close());
        expectNoSecret(printed(driver), key);
        expect(printed(driver)).not.toContain(cs);
        const queue = createQueue({ name: 'q', driver, ownsDriver: true });
        cleanups.push(() => queue.close({ timeout: 0 }));
        expectNoSecret(printed(queue), key);
      }
    }
  });

  it.runIf(target === 'test-server')(
    'a received job, its raw SDK message and the delivery print no key (test server: any key is accepted)',
    async () => {
      for (const [index, key] of SENTINELS.entries()) {
        // One order per sentinel, the key first and the endpoint last for one of them.
        const all = connectionStrings(endpoint, key);
        const cs = all[[23, 0, 11][index] ?? 0] as string;
        const name = `qk-sb-secret-${randomUUID().slice(0, 8)}`;
        cleanups.push(() => deleteQueue(name));
        const queue = createQueue<{ n: number }>({
          name,
          driver: createDriver({ url: cs }),
          ownsDriver: true,
        });
        cleanups.push(() => queue.close({ timeout: 0 }));
        await queue.send('x', { n: index });
        let job: Job<{ n: number }> | undefined;
        queue.process(async (received) => {
          job = received;
        });
        const received = await until('the job', 20_000, () => job);
        expectNoSecret(printed(received), key);
        expectNoSecret(printed(received.raw), key);
        // The raw message is still the SDK's own object.
        expect((received.raw as { messageId?: unknown }).messageId).toBeDefined();
        expect(JSON.parse(JSON.stringify(received.raw))).toMatchObject({ deliveryCount: 0 });
        expectNoSecret(printed(await queue.driver()), key);
      }
    },
  );

  it('a refused connection fails without the key in the error, its stack or its cause chain', async () => {
    for (const [index, key] of SENTINELS.entries()) {
      const cs = connectionStrings('sb://127.0.0.1:1', key)[[0, 23, 7][index] ?? 0] as string;
      const driver = createDriver({ url: cs, maxRetries: 0, operationTimeoutMs: 3000 });
      cleanups.push(() => driver.close());
      const error = await driver
        .send('nowhere', [{ id: '1', name: 'n', body: new Uint8Array([1]), headers: {} }])
        .then(
          () => undefined,
          (e: unknown) => e as Error,
        );
      expect(error).toBeInstanceOf(Error);
      let text = printed(error);
      for (let cause = error?.cause; cause; cause = (cause as Error).cause) text += `\n${printed(cause)}`;
      text += `\n${error?.stack}`;
      expectNoSecret(text, key);
    }
  });

  it('UseDevelopmentEmulator other than true or false is a ConfigError, not a silent TLS connect loop', () => {
    for (const value of ['maybe', '1', 'yes', '']) {
      const connectionString = `Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=a;SharedAccessKey=S3NTk;UseDevelopmentEmulator=${value}`;
      expect(() => new ServiceBusDriver({ connectionString })).toThrow(ConfigError);
      expect(() => new ServiceBusDriver({ connectionString })).toThrow(
        /UseDevelopmentEmulator must be true or false/,
      );
      expect(() => new ServiceBusDriver({ connectionString })).not.toThrow(/S3NTk/);
    }
    const lower = new ServiceBusDriver({
      connectionString:
        'Endpoint=sb://127.0.0.1:5672;SharedAccessKeyName=a;SharedAccessKey=k;usedevelopmentemulator=FALSE',
    });
    cleanups.push(() => lower.close());
  });

  it('UseDevelopmentEmulator=true (plain TCP) is refused for a host that is not loopback, unless allowInsecure', () => {
    const remote =
      'Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=S3NTk;UseDevelopmentEmulator=true';
    expect(() => new ServiceBusDriver({ connectionString: remote })).toThrow(ConfigError);
    expect(() => new ServiceBusDriver({ connectionString: remote })).toThrow(/allowInsecure/);
    const allowed = new ServiceBusDriver({ connectionString: remote, allowInsecure: true });
    cleanups.push(() => allowed.close());
    for (const host of ['127.0.0.1:5672', 'localhost', '[::1]:5672']) {
      const local = new ServiceBusDriver({
        connectionString: `Endpoint=sb://${host};SharedAccessKeyName=a;SharedAccessKey=k;UseDevelopmentEmulator=true`,
      });
      cleanups.push(() => local.close());
    }
    // Without the switch the SDK uses TLS: any host.
    const tls = new ServiceBusDriver({
      connectionString: remote.replace(';UseDevelopmentEmulator=true', ''),
    });
    cleanups.push(() => tls.close());
    expect(optionsFromUrl('servicebus://contoso/q?allowInsecure=true')).toMatchObject({
      allowInsecure: true,
    });
  });

  it('a malformed connection string is a ConfigError naming the field, without its text', () => {
    for (const key of SENTINELS) {
      const bad = [
        `Endpoint=sb://x/;SharedAccessKey=${key}`, // no key name (refused by the SDK)
        `Endpoint=http://x/;SharedAccessKeyName=a;SharedAccessKey=${key}`, // not sb://
        `SharedAccessKey=${key};Endpoint=sb://x/;junk`, // a part without `=`
      ];
      for (const cs of bad) {
        let error: unknown;
        try {
          new ServiceBusDriver({ connectionString: cs });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).message).toMatch(/connectionString/);
        expectNoSecret(printed(error), key);
      }
    }
  });
});
