// Start Google's Pub/Sub emulator on a free port for the benchmark (unless PUBSUB_EMULATOR_HOST is set).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';

const EMULATOR_BIN =
  process.env.QUEUEKIT_PUBSUB_EMULATOR_BIN ??
  '/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Returns its stop function and pid; sets PUBSUB_EMULATOR_HOST for both contenders. */
export async function startPubSubEmulator() {
  if (process.env.PUBSUB_EMULATOR_HOST) return { stop: async () => undefined, pid: undefined };
  if (!existsSync(EMULATOR_BIN)) throw new Error(`Pub/Sub emulator missing: ${EMULATOR_BIN} not found`);
  const port = await freePort();
  const child = spawn(EMULATOR_BIN, ['--host=127.0.0.1', `--port=${port}`], {
    stdio: 'ignore',
    detached: true,
  });
  const deadline = Date.now() + 60_000;
  while (!(await portOpen(port))) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('Pub/Sub emulator did not start');
    await new Promise((resolve) => setTimeout(resolve, 100)); // polling a port with a deadline
  }
  process.env.PUBSUB_EMULATOR_HOST = `127.0.0.1:${port}`;
  const stop = async () => {
    const gone = new Promise((resolve) => child.once('exit', resolve));
    process.kill(-child.pid, 'SIGTERM');
    await gone;
    delete process.env.PUBSUB_EMULATOR_HOST;
  };
  return { stop, pid: child.pid };
}
