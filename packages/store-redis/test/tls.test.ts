import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerUnavailableError } from '@queuekit/core';
import { until } from '@queuekit/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStore } from '../src/index.js';
import { REDIS_URL, uniquePrefix } from './helpers.js';

function hasBinary(name: string, versionArg: string): boolean {
  try {
    execFileSync(name, [versionArg], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

// A throwaway TLS-only redis-server with a self-signed certificate and a password, to prove that
// rediss:// URLs speak TLS and authenticate. Needs the redis-server and openssl binaries.
const tlsAvailable = hasBinary('redis-server', '--version') && hasBinary('openssl', 'version');

describe.skipIf(!tlsAvailable)('RedisStore over TLS (rediss://)', () => {
  const password = 'tls-s3cret';
  let dir = '';
  let port = 0;
  let server: ChildProcess | undefined;
  let ca: Buffer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qk-redis-tls-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1']
        .concat(['-addext', 'subjectAltName=IP:127.0.0.1'])
        .concat(['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]),
      { stdio: 'ignore' },
    );
    ca = readFileSync(join(dir, 'cert.pem'));
    port = await freePort();
    server = spawn(
      'redis-server',
      ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
        .concat(['--dir', dir, '--requirepass', password, '--tls-auth-clients', 'no'])
        .concat(['--tls-cert-file', join(dir, 'cert.pem'), '--tls-key-file', join(dir, 'key.pem')])
        .concat(['--tls-ca-cert-file', join(dir, 'cert.pem')]),
      { stdio: 'ignore' },
    );
    const probe = createRedisStore({
      url: `rediss://:${password}@127.0.0.1:${port}`,
      redisOptions: { tls: { ca } },
    });
    await until('the TLS redis-server to accept connections', 15_000, async () =>
      probe.get('probe').then(
        () => true,
        () => false,
      ),
    );
    await probe.close();
  });

  afterAll(() => {
    server?.kill('SIGTERM');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('connects with rediss://, authenticates and round-trips values', async () => {
    const store = createRedisStore({
      url: `rediss://:${password}@127.0.0.1:${port}`,
      prefix: uniquePrefix(),
      redisOptions: { tls: { ca } },
    });
    try {
      await store.merge('job', { state: 'done' }, { ttlMs: 60_000 });
      expect(await store.get('job')).toEqual({ state: 'done' });
      expect(await store.increment('n')).toBe(1);
    } finally {
      await store.close();
    }
  });

  it.each(['REDISS', 'Rediss'])(
    'an upper-case %s:// scheme with a CA round-trips over TLS',
    async (scheme) => {
      const store = createRedisStore({
        url: `${scheme}://:${password}@127.0.0.1:${port}`,
        prefix: uniquePrefix(),
        redisOptions: { tls: { ca } },
      });
      try {
        await store.set('k', { tls: true });
        expect(await store.get('k')).toEqual({ tls: true });
      } finally {
        await store.close();
      }
    },
  );

  it('a plain redis:// URL cannot talk to the TLS port (the failure is typed and hides the password)', async () => {
    const store = createRedisStore({ url: `redis://:${password}@127.0.0.1:${port}`, prefix: uniquePrefix() });
    try {
      const failure = await store.get('x').then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(BrokerUnavailableError);
      expect(String((failure as Error).message)).not.toContain(password);
    } finally {
      await store.close();
    }
  });
});

describe('rediss:// in any case', () => {
  it.each(['REDISS', 'Rediss', 'rediss'])(
    '%s:// never falls back to plaintext: against the plaintext test server it fails',
    async (scheme) => {
      const plain = new URL(REDIS_URL);
      const store = createRedisStore({
        url: `${scheme}://${plain.host}${plain.pathname}`,
        prefix: uniquePrefix(),
        redisOptions: { connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null },
      });
      try {
        const outcome = await store.set('k', 1).then(
          () => 'plaintext',
          (error: unknown) => error,
        );
        expect(outcome).toBeInstanceOf(BrokerUnavailableError);
      } finally {
        await store.close();
      }
    },
  );
});
