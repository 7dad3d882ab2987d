import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { CHROMIUM } from './browser.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** RabbitMQ URL with a vhost of this run's own. */
    amqpUrl: string;
    redisUrl: string;
  }
}

const run = promisify(execFile);

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(2_000);
    socket.once('connect', () => resolve(true));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => resolve(false));
    socket.once('close', () => socket.destroy());
    socket.once('connect', () => socket.end());
  });
}

function fail(message: string): never {
  // One line and a failing exit code: a thrown error would also make vitest print "No test files found".
  console.error(message);
  process.exit(1);
}

/** Redis and RabbitMQ must run (`pnpm test` starts them), Chromium must be installed (`.ci/run` installs it). */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!existsSync(CHROMIUM))
    fail(
      `${CHROMIUM} is missing for the dashboard's browser tests; install it with: apt-get install -y chromium`,
    );
  if (!(await reachable(6379)))
    fail('Redis is not reachable on 127.0.0.1:6379; run: bash scripts/ensure-services.sh');
  if (!(await reachable(5672)))
    fail('RabbitMQ is not reachable on 127.0.0.1:5672; run: bash scripts/ensure-services.sh');
  project.provide('redisUrl', process.env.QUEUEKIT_REDIS_URL ?? 'redis://127.0.0.1:6379');
  const vhost = `qk-dash-${randomUUID().slice(0, 8)}`;
  await run('rabbitmqctl', ['-q', 'add_vhost', vhost], { timeout: 30_000 });
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*'], {
    timeout: 30_000,
  });
  project.provide('amqpUrl', `amqp://guest:guest@127.0.0.1:5672/${vhost}`);
  return async () => {
    await run('rabbitmqctl', ['-q', 'delete_vhost', vhost], { timeout: 30_000 });
  };
}
