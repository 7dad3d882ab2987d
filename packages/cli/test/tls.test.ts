import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, json, queueName, runCli } from './helpers.js';

const SENTINEL = 'SENTINEL-Pa55';

function hasBinary(command: string, arg: string): boolean {
  try {
    execFileSync(command, [arg], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

// A throwaway TLS-only redis-server with a self-signed certificate and a password.
const tlsAvailable = hasBinary('redis-server', '--version') && hasBinary('openssl', 'version');

describe.skipIf(!tlsAvailable)('queuekit over TLS (rediss://)', () => {
  let dir = '';
  let port = 0;
  let server: ChildProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qk-cli-tls-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1']
        .concat(['-addext', 'subjectAltName=IP:127.0.0.1'])
        .concat(['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]),
      { stdio: 'ignore' },
    );
    port = await freePort();
    server = spawn(
      'redis-server',
      ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
        .concat(['--dir', dir, '--requirepass', SENTINEL, '--tls-auth-clients', 'no'])
        .concat(['--tls-cert-file', join(dir, 'cert.pem'), '--tls-key-file', join(dir, 'key.pem')]),
      { stdio: 'ignore' },
    );
    await eventually(
      () =>
        new Promise<boolean>((resolve) => {
          const probe = createServer();
          probe.once('error', () => resolve(true)); // in use: redis-server is listening
          probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
        }),
      15_000,
    );
  });

  afterAll(() => {
    server?.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sends and counts through TLS with a private CA (NODE_EXTRA_CA_CERTS), masking the password', async () => {
    const q = queueName();
    const env = {
      QUEUE_URL: `rediss://:${SENTINEL}@127.0.0.1:${port}`,
      NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem'),
    };
    const sent = await runCli(['send', q, 'secure', '{"tls":true}'], env);
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    const stats = await runCli(['stats', q, '--json'], env);
    expect(json(stats)).toMatchObject({ queues: [{ queue: q, waiting: 1 }] });
    for (const result of [sent, stats]) expect(`${result.stdout}${result.stderr}`).not.toContain(SENTINEL);
  });

  it('fails in one line, without the password, when the certificate is not trusted', async () => {
    const result = await runCli(['stats', queueName(), '--timeout', '3000'], {
      QUEUE_URL: `rediss://:${SENTINEL}@127.0.0.1:${port}`,
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^queuekit: [^\n]+\n$/);
    expect(result.stderr).not.toContain(SENTINEL);
    expect(result.ms).toBeLessThan(15_000);
  });
});
