import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { TestProject } from 'vitest/node';

/** Where the Debian package google-cloud-cli-pubsub-emulator installs the emulator (overridable). */
const EMULATOR_BIN =
  process.env.QUEUEKIT_PUBSUB_EMULATOR_BIN ??
  '/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator';

declare module 'vitest' {
  export interface ProvidedContext {
    pubsubEmulatorHost: string;
    pubsubProject: string;
  }
}

function lastLine(output: string): string {
  const lines = output.split('\n').filter((line) => line.trim() !== '');
  return lines.at(-1)?.trim() ?? '(no output)';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The command that starts the emulator: the installed binary, else `gcloud beta emulators pubsub start`. */
function emulatorCommand(port: number): { command: string; args: string[] } | undefined {
  if (existsSync(EMULATOR_BIN))
    return { command: EMULATOR_BIN, args: ['--host=127.0.0.1', `--port=${port}`] };
  const gcloudCommand = process.env.QUEUEKIT_PUBSUB_GCLOUD ?? 'gcloud';
  const gcloud = spawnSync(gcloudCommand, ['--version'], { stdio: 'ignore' });
  if (gcloud.status === 0)
    return {
      command: gcloudCommand,
      args: ['beta', 'emulators', 'pubsub', 'start', `--host-port=127.0.0.1:${port}`],
    };
  return undefined;
}

/**
 * Start Google's Pub/Sub emulator on a free port (unless PUBSUB_EMULATOR_HOST points at one
 * already, or QUEUEKIT_PUBSUB_REAL=1 selects the real service), and stop it afterwards.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const projectId = process.env.QUEUEKIT_PUBSUB_PROJECT ?? 'queuekit-test';
  project.provide('pubsubProject', projectId);
  if (process.env.QUEUEKIT_PUBSUB_REAL === '1') {
    project.provide('pubsubEmulatorHost', '');
    return async () => undefined;
  }
  if (process.env.PUBSUB_EMULATOR_HOST) {
    project.provide('pubsubEmulatorHost', process.env.PUBSUB_EMULATOR_HOST);
    return async () => undefined;
  }
  const port = await freePort();
  const how = emulatorCommand(port);
  if (!how) {
    throw new Error(
      `Pub/Sub emulator missing: ${EMULATOR_BIN} not found and no gcloud; install google-cloud-cli-pubsub-emulator (apt) or set PUBSUB_EMULATOR_HOST`,
    );
  }
  let output = '';
  // Its own process group: `gcloud` runs the emulator as a child, and the group is stopped as a whole.
  const child: ChildProcess = spawn(how.command, how.args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const stop = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  child.once('error', (error) => {
    exited = true;
    output += `\n${error.message}`;
  });
  const deadline = Date.now() + 60_000;
  while (!(await portOpen(port))) {
    if (exited)
      throw new Error(`Pub/Sub emulator (${how.command}) exited before listening: ${lastLine(output)}`);
    if (Date.now() > deadline) {
      stop('SIGKILL');
      throw new Error(
        `Pub/Sub emulator did not listen on 127.0.0.1:${port} within 60 s: ${lastLine(output)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const host = `127.0.0.1:${port}`;
  process.env.PUBSUB_EMULATOR_HOST = host;
  project.provide('pubsubEmulatorHost', host);
  return async () => {
    if (exited) return;
    const gone = new Promise((resolve) => child.once('exit', resolve));
    stop('SIGTERM');
    const timer = setTimeout(() => stop('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  };
}
