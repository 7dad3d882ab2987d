import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The node start script itself: Debian's /usr/sbin wrapper switches to the rabbitmq user and drops our
 * environment, so its target is used first; without that layout (generic Unix package, Homebrew) the one
 * on the PATH is the start script itself.
 */
const SERVER_SCRIPT = [
  '/usr/lib/rabbitmq/bin/rabbitmq-server',
  '/usr/lib/rabbitmq/sbin/rabbitmq-server',
  ...(process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, 'rabbitmq-server')),
].find((path) => existsSync(path));

/** Whether this machine can start a second RabbitMQ node. */
export const canStartBroker = SERVER_SCRIPT !== undefined;

/** File paths of the generated PKI (PEM). */
export interface Pki {
  readonly ca: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** The client key encrypted with {@link Pki.passphrase}. */
  readonly encryptedClientKey: string;
  readonly passphrase: string;
  /** A CA that signed nothing the broker uses. */
  readonly wrongCa: string;
}

/** A RabbitMQ node of its own with only a TLS listener that requires a client certificate. */
export interface TlsBroker extends Pki {
  readonly port: number;
  stop(): Promise<void>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

/** A test CA, a server certificate for 127.0.0.1 / localhost, a client certificate, and a stranger CA. */
async function generatePki(dir: string): Promise<Pki> {
  const days = ['-days', '2'];
  await openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    ...days,
    '-subj',
    '/CN=queuekit test CA',
  ]);
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  await openssl(dir, [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=localhost',
  ]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    ...days,
    '-extfile',
    'server.ext',
  ]);
  await openssl(dir, [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'client.key',
    '-out',
    'client.csr',
    '-subj',
    '/CN=queuekit-client',
  ]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.pem',
    ...days,
  ]);
  const passphrase = 'pass phrase/with %#';
  await openssl(dir, [
    'pkey',
    '-in',
    'client.key',
    '-aes256',
    '-passout',
    `pass:${passphrase}`,
    '-out',
    'client-encrypted.key',
  ]);
  await openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'wrong.key',
    '-out',
    'wrong.pem',
    ...days,
    '-subj',
    '/CN=stranger CA',
  ]);
  return {
    ca: join(dir, 'ca.pem'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
    encryptedClientKey: join(dir, 'client-encrypted.key'),
    passphrase,
    wrongCa: join(dir, 'wrong.pem'),
  };
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

/** Resolve once a TLS handshake with the client certificate succeeds on `port`. */
function handshake(port: number, pki: Pki): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca: readFileSync(pki.ca),
      cert: readFileSync(pki.clientCert),
      key: readFileSync(pki.clientKey),
    });
    socket.setTimeout(2_000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('secureConnect', () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, timeoutMs);
    child.once('exit', onExit);
  });
}

/**
 * Start a second RabbitMQ node (own node name, ports, config, data and log directories, no plugins)
 * whose only listener is TLS with `verify_peer` and `fail_if_no_peer_cert`, as in RabbitMQ's TLS guide.
 * The machine's own node is untouched. `stop()` shuts the node down and deletes its directory.
 */
export async function startTlsBroker(timeoutMs = 90_000): Promise<TlsBroker> {
  if (!SERVER_SCRIPT) throw new Error('rabbitmq-server is not installed');
  const dir = await mkdtemp(join(tmpdir(), 'qk-tls-broker-'));
  const pki = await generatePki(dir);
  const [port, nodePort, distPort] = [await freePort(), await freePort(), await freePort()];
  await writeFile(
    join(dir, 'rabbitmq.conf'),
    [
      'listeners.tcp = none',
      `listeners.ssl.default = 127.0.0.1:${port}`,
      `ssl_options.cacertfile = ${pki.ca}`,
      `ssl_options.certfile = ${join(dir, 'server.pem')}`,
      `ssl_options.keyfile = ${join(dir, 'server.key')}`,
      'ssl_options.verify = verify_peer',
      'ssl_options.fail_if_no_peer_cert = true',
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'enabled_plugins'), '[].\n');
  await writeFile(join(dir, 'rabbitmq-env.conf'), '');
  const log = openSync(join(dir, 'server.log'), 'a');
  const child = spawn(SERVER_SCRIPT, [], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', log, log],
    env: {
      ...process.env,
      HOME: dir, // its own Erlang cookie
      RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
      RABBITMQ_NODENAME: `qk-tls-${port}@localhost`,
      RABBITMQ_NODE_PORT: String(nodePort),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      ERL_EPMD_ADDRESS: '127.0.0.1',
    },
  });
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid, 'SIGTERM');
      if (!(await exited(child, 30_000))) {
        process.kill(-child.pid, 'SIGKILL');
        await exited(child, 10_000);
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const output = readFileSync(join(dir, 'server.log'), 'utf8').slice(-2_000);
      await stop();
      throw new Error(`the TLS RabbitMQ node exited during start-up:\n${output}`);
    }
    if (await handshake(port, pki)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the TLS RabbitMQ node did not listen on ${port} within ${timeoutMs} ms`);
    }
    await exited(child, 250);
  }
  return { ...pki, port, stop };
}
