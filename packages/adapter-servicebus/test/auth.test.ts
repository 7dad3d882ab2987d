import { inspect } from 'node:util';
import { AuthenticationError, createQueue } from '@queuekit/core';
import { type ServiceBusEmulator, startEmulator } from '@queuekit/servicebus-emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceBusDriver } from '../src/index.js';

/** A key with characters connection-string handling tends to get wrong. */
const WRONG_KEY = 'wr0ng/k+y=%#';
/** A wrong key must fail within this (the bound), not at the caller's timeout. */
const FAIL_FAST_MS = 2000;

// A test server of its own that checks SAS signatures on $cbs like Service Bus (401 for a key it does
// not hold); the shared one accepts any key (test/secrets.test.ts signs with many).
let emulator: ServiceBusEmulator;
let connectionString = '';
let endpoint = '';
beforeAll(async () => {
  emulator = await startEmulator({ defaultQueueProperties: { lockDurationMs: 2000 } });
  connectionString = emulator.connectionString;
  endpoint = /Endpoint=sb:\/\/([^;/]+)/i.exec(connectionString)?.[1] ?? '';
});
afterAll(async () => {
  await emulator.stop();
});

const withKey = (key: string) => connectionString.replace(/SharedAccessKey=[^;]*/i, `SharedAccessKey=${key}`);

describe('a wrong shared access key', () => {
  for (const operation of ['send', 'receive'] as const) {
    it(`${operation} rejects with AuthenticationError within ${FAIL_FAST_MS} ms, naming the namespace, not the key`, async () => {
      const driver = new ServiceBusDriver({ connectionString: withKey(WRONG_KEY) });
      try {
        const startedAt = Date.now();
        const call =
          operation === 'send'
            ? driver.send('qka-auth', [{ id: 'a1', name: 't', body: Buffer.from('{}'), headers: {} }])
            : driver.receive('qka-auth', {
                max: 1,
                waitMs: 100,
                lockMs: 2000,
                signal: new AbortController().signal,
              });
        const error = await call.then(
          () => undefined,
          (e: unknown) => e,
        );
        const took = Date.now() - startedAt;
        expect(error).toBeInstanceOf(AuthenticationError);
        expect(error).toMatchObject({ code: 'ERR_AUTH', broker: `sb://${endpoint}` });
        expect(took, `took ${took} ms`).toBeLessThan(FAIL_FAST_MS);
        const shown = `${inspect(error, { depth: 5 })} ${JSON.stringify(error)} ${(error as Error).stack}`;
        for (const spelling of [WRONG_KEY, encodeURIComponent(WRONG_KEY)])
          expect(shown).not.toContain(spelling);
        // The next call of that kind fails the same way, without checking again.
        const again = Date.now();
        const next =
          operation === 'send'
            ? driver.send('qka-auth', [{ id: 'a2', name: 't', body: Buffer.from('{}'), headers: {} }])
            : driver.receive('qka-auth', {
                max: 1,
                waitMs: 100,
                lockMs: 2000,
                signal: new AbortController().signal,
              });
        await expect(next).rejects.toBeInstanceOf(AuthenticationError);
        expect(Date.now() - again).toBeLessThan(200);
      } finally {
        await driver.close();
      }
    });
  }

  it('the right key is accepted (through a queue)', async () => {
    const queue = createQueue<{ n: number }>({
      name: 'qka-auth-ok',
      driver: new ServiceBusDriver({ connectionString }),
      ownsDriver: true,
    });
    try {
      await expect(queue.send('t', { n: 1 })).resolves.toBeDefined();
    } finally {
      await queue.close();
    }
  });
});
