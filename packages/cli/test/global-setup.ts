import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** RabbitMQ URL of a user created for this run whose password is the sentinel. */
    amqpSentinelUrl: string;
    /** Redis URL of an ACL user created for this run whose password is the sentinel. */
    redisSentinelUrl: string;
    /** The same for a password with `/`, `%`, `#` and a space ({@link HOSTILE_SENTINEL}, percent-encoded). */
    amqpHostileUrl: string;
    redisHostileUrl: string;
  }
}

/** The password the tests grep for in every output. */
export const SENTINEL = 'SENTINEL-Pa55';
/** A password that breaks naive URL parsers; every form of it contains `SENTI`. */
export const HOSTILE_SENTINEL = 'pa/SENTI %#NEL';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(2_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function rabbitmqctl(args: readonly string[]): Promise<void> {
  await run('rabbitmqctl', ['-q', ...args], { timeout: 30_000 });
}

/**
 * Build dist/ (the end-to-end tests run `node dist/cli.js`), check Redis and RabbitMQ are up, and
 * create one user on each whose password is the sentinel; remove them afterwards.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await run('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: packageDir });
  for (const [name, port] of [
    ['Redis', 6379],
    ['RabbitMQ', 5672],
  ] as const) {
    if (!(await portOpen(port))) {
      throw new Error(
        `${name} is not listening on 127.0.0.1:${port}; start it with scripts/ensure-services.sh (repository root)`,
      );
    }
  }
  const suffix = randomUUID().slice(0, 8);
  const amqpUser = `qk-cli-${suffix}`;
  await rabbitmqctl(['add_user', amqpUser, SENTINEL]);
  await rabbitmqctl(['set_permissions', '-p', '/', amqpUser, '.*', '.*', '.*']);
  const redisUser = `qk-cli-${suffix}`;
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
  await redis.call('ACL', 'SETUSER', redisUser, 'on', `>${SENTINEL}`, '~*', '&*', '+@all');
  const hostileUser = `${redisUser}-h`;
  await rabbitmqctl(['add_user', hostileUser, HOSTILE_SENTINEL]);
  await rabbitmqctl(['set_permissions', '-p', '/', hostileUser, '.*', '.*', '.*']);
  await redis.call('ACL', 'SETUSER', hostileUser, 'on', `>${HOSTILE_SENTINEL}`, '~*', '&*', '+@all');
  await redis.quit();
  const hostile = encodeURIComponent(HOSTILE_SENTINEL);
  project.provide('amqpSentinelUrl', `amqp://${amqpUser}:${SENTINEL}@127.0.0.1:5672`);
  project.provide('redisSentinelUrl', `redis://${redisUser}:${SENTINEL}@127.0.0.1:6379`);
  project.provide('amqpHostileUrl', `amqp://${hostileUser}:${hostile}@127.0.0.1:5672`);
  project.provide('redisHostileUrl', `redis://${hostileUser}:${hostile}@127.0.0.1:6379`);
  return async () => {
    for (const user of [amqpUser, hostileUser])
      await rabbitmqctl(['delete_user', user]).catch(() => undefined);
    const cleanup = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
    await cleanup.call('ACL', 'DELUSER', redisUser, hostileUser).catch(() => undefined);
    await cleanup.quit();
  };
}
