import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { AuthenticationError, createQueue } from '@queuekit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BullmqDriver } from '../src/index.js';

/** A password with characters URL handling tends to get wrong. */
const PASSWORD = `s3/cr%t#pa-${randomUUID().slice(0, 8)}`;
const WRONG = `wr/ng%p#ss-${randomUUID().slice(0, 8)}`;
/** A wrong password must fail within this (the bound), not at the caller's timeout. */
const FAIL_FAST_MS = 2000;

let server: ChildProcess | undefined;
let dir = '';
let port = 0;

/** A free TCP port on 127.0.0.1 (closed again before redis-server takes it). */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/** Resolves once something accepts TCP connections on `port`, or rejects after `ms`. */
async function listening(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port} within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// A second Redis, started by this file on a free port, with a password (the machine's Redis has none).
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qk-redis-auth-'));
  port = await freePort();
  server = spawn(
    'redis-server',
    ['-', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: ['pipe', 'ignore', 'inherit'] },
  );
  // The password goes in through the config on stdin, not argv (no `ps` listing shows it).
  server.stdin?.end(`requirepass "${PASSWORD}"\n`);
  await listening(port, 10_000);
});

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server?.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const urlWith = (password?: string) =>
  password === undefined
    ? `redis://127.0.0.1:${port}`
    : `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`;

/** Every spelling of `secret` a leak could take. */
const spellings = (secret: string) => [secret, encodeURIComponent(secret)];

describe('wrong credentials fail fast with AuthenticationError', () => {
  it('the right password works (the server under test checks it)', async () => {
    const queue = createQueue<{ n: number }>({
      name: `auth-ok-${randomUUID().slice(0, 8)}`,
      driver: new BullmqDriver({ url: urlWith(PASSWORD), prefix: 'qk-auth' }),
      ownsDriver: true,
    });
    try {
      await expect(queue.send('t', { n: 1 })).resolves.toBeDefined();
    } finally {
      await queue.close();
    }
  });

  for (const [what, password] of [
    ['a wrong password', WRONG],
    ['no password', undefined],
  ] as const) {
    it(`${what}: send rejects with AuthenticationError within ${FAIL_FAST_MS} ms, naming Redis, not the secret`, async () => {
      const queue = createQueue<{ n: number }>({
        name: `auth-${randomUUID().slice(0, 8)}`,
        driver: new BullmqDriver({ url: urlWith(password), prefix: 'qk-auth' }),
        ownsDriver: true,
      });
      try {
        const startedAt = Date.now();
        const error = await queue.send('t', { n: 1 }).catch((e: unknown) => e);
        const took = Date.now() - startedAt;
        expect(error).toBeInstanceOf(AuthenticationError);
        expect(error).toMatchObject({ code: 'ERR_AUTH', broker: 'redis' });
        expect(took, `took ${took} ms`).toBeLessThan(FAIL_FAST_MS);
        const shown = `${inspect(error, { depth: 5 })} ${JSON.stringify(error)} ${(error as Error).stack}`;
        for (const secret of [...spellings(WRONG), ...spellings(PASSWORD)])
          expect(shown).not.toContain(secret);
      } finally {
        await queue.close();
      }
    });
  }
});
