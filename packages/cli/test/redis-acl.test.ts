import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDriver as createBullmqDriver } from '@queuekit/adapter-bullmq';
import { createQueue, UnrecoverableError } from '@queuekit/core';
import { createRedisStore } from '@queuekit/store-redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, queueName } from './helpers.js';

/**
 * The Redis ACL that docs/security.md documents for BullMQ plus the Redis store, checked two ways:
 * `ACL DRYRUN` (every command the code and BullMQ's Lua scripts call is allowed, the dangerous ones are
 * not) and a real workload run as a user with exactly these rules (nothing denied in `ACL LOG`).
 */
const DOCUMENTED_ACL = readDocumentedAcl();

function readDocumentedAcl(): string[] {
  const doc = readFileSync(new URL('../../../docs/security.md', import.meta.url), 'utf8');
  const line = /`ACL SETUSER app on >password ([^`]+)`/.exec(doc)?.[1];
  if (!line) throw new Error('docs/security.md has no `ACL SETUSER app on >password ...` line');
  return line.trim().split(/\s+/);
}

/** Commands named as string literals in Lua (`rcall("X"`, `redis.call('X'`) or in `.call('X'`. */
function luaCommands(text: string): string[] {
  return [...text.matchAll(/(?:rcall|redis\.p?call|\.call)\(\s*['"]([A-Za-z]+)['"]/g)].map((m) =>
    (m[1] as string).toLowerCase(),
  );
}

function filesUnder(dir: string, ext: RegExp): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && ext.test(entry.name))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Every command BullMQ's installed Lua scripts call, and those of our adapter's and store's scripts. */
function scriptCommands(): string[] {
  const require = createRequire(fileURLToPath(new URL('../../adapter-bullmq/package.json', import.meta.url)));
  const bullmqDir = dirname(require.resolve('bullmq/package.json'));
  const sources = [
    ...filesUnder(join(bullmqDir, 'dist', 'esm', 'commands'), /\.lua$/),
    ...filesUnder(fileURLToPath(new URL('../../adapter-bullmq/src', import.meta.url)), /\.ts$/),
    ...filesUnder(fileURLToPath(new URL('../../store-redis/src', import.meta.url)), /\.ts$/),
  ];
  const commands = new Set(sources.flatMap((file) => luaCommands(readFileSync(file, 'utf8'))));
  // Called with a variable name in BullMQ's scripts (findPage.lua, paginate, addJobInTargetList).
  for (const name of ['sscan', 'hscan', 'scard', 'hlen', 'lpush', 'rpush']) commands.add(name);
  return [...commands].sort();
}

/** Commands a queue or store user must never have. */
const DENIED = [
  ['flushall'],
  ['flushdb'],
  ['swapdb', '0', '1'],
  ['keys', '*'],
  ['config', 'set', 'dir', '/tmp'],
  ['config', 'get', '*'],
  ['debug', 'sleep', '0'],
  ['shutdown'],
  ['monitor'],
  ['script', 'flush'],
  ['function', 'flush'],
  ['module', 'list'],
  ['replicaof', 'no', 'one'],
  ['acl', 'list'],
  ['client', 'kill', 'id', '1'],
  ['client', 'list'],
  ['migrate', 'h', '1', 'bull:x', '0', '1'],
  ['save'],
  ['bgrewriteaof'],
  ['sort', 'bull:x'],
  ['get', 'other-app:key'],
  ['del', 'session:1'],
];

const admin = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
const user = queueName('qk-acl');
const password = 'acl-test-Pa55';
const url = `redis://${user}:${password}@127.0.0.1:6379`;
const storePrefix = 'qk:store:'; // the store's default, as documented
const FAST = { type: 'fixed', delay: 100 } as const;

beforeAll(async () => {
  await admin.call('ACL', 'SETUSER', user, 'reset', 'on', `>${password}`, ...DOCUMENTED_ACL);
  await admin.call('ACL', 'LOG', 'RESET');
});

afterAll(async () => {
  await admin.call('ACL', 'DELUSER', user);
  admin.disconnect();
});

async function dryRun(args: readonly string[]): Promise<string> {
  try {
    return String(await admin.call('ACL', 'DRYRUN', user, ...args));
  } catch (error) {
    return `ERR ${(error as Error).message}`;
  }
}

/** Arguments that satisfy a command's arity, every one a key under the queue prefix. */
async function probeArgs(command: string): Promise<string[]> {
  const [info] = (await admin.call('COMMAND', 'INFO', command)) as [[string, number] | null];
  if (!info) throw new Error(`Redis does not know ${command}`);
  const arity = info[1];
  const count = Math.abs(arity) - 1;
  return [
    command,
    ...Array.from({ length: count }, (_, index) => (index === 0 ? 'bull:acl:k' : 'bull:acl:k2')),
  ];
}

describe('the Redis ACL in docs/security.md', () => {
  it('allows every command BullMQ’s scripts and our adapter/store call (ACL DRYRUN)', async () => {
    const commands = scriptCommands();
    expect(commands.length).toBeGreaterThan(40);
    const refused: string[] = [];
    for (const command of commands) {
      const reply = await dryRun(await probeArgs(command));
      if (reply !== 'OK') refused.push(`${command}: ${reply}`);
    }
    expect(refused).toEqual([]);
  });

  it('refuses FLUSHALL, FLUSHDB, SWAPDB, KEYS, CONFIG and other keys (ACL DRYRUN)', async () => {
    for (const args of DENIED) {
      expect(await dryRun(args), args.join(' ')).toMatch(/no permissions/i);
    }
  });

  it('is enough for a real workload: send, retry, delay, priority, dead letters, schedules, job records', async () => {
    const name = queueName('acl');
    const store = createRedisStore({ url, prefix: storePrefix });
    const queue = createQueue<{ n: number; kind: string }>({ name, url, store, defaults: { backoff: FAST } });
    const ids = await queue.sendBatch([
      { name: 'ok', data: { n: 1, kind: 'ok' } },
      { name: 'ok', data: { n: 2, kind: 'ok' }, options: { priority: 5 } },
    ]);
    ids.push(await queue.send('late', { n: 3, kind: 'ok' }, { delay: 300 }));
    ids.push(await queue.send('flaky', { n: 4, kind: 'flaky' }, { jobId: `${name}-flaky` }));
    ids.push(await queue.send('doomed', { n: 5, kind: 'doomed' }));
    expect((await queue.peek(10)).length).toBeGreaterThan(0);
    await queue.schedule('tick', { every: 60_000, data: { n: 0, kind: 'ok' } });
    expect((await queue.schedules.list()).map((schedule) => schedule.name)).toEqual(['tick']);

    let completed = 0;
    let dead = 0;
    const failedOnce = new Set<number>();
    queue.on('completed', () => {
      completed++;
    });
    queue.on('dead-lettered', () => {
      dead++;
    });
    queue.process(
      async (job) => {
        if (job.data.kind === 'doomed') throw new UnrecoverableError('bad input');
        if (job.data.kind === 'flaky' && !failedOnce.has(job.data.n)) {
          failedOnce.add(job.data.n);
          throw new Error('try again');
        }
        return job.data.n;
      },
      { concurrency: 2 },
    );
    await eventually(() => completed >= 4 && dead === 1, 30_000);
    expect(await queue.getJob(ids[0] as string)).toMatchObject({ state: 'completed' });
    expect((await queue.stats()).deadLettered).toBe(1);
    const records = await queue.deadLetters.list();
    expect(records.map((record) => record.name)).toEqual(['doomed']);
    // Counts are the adapter's business (its own tests); here: each call runs and nothing is refused.
    await queue.deadLetters.redrive();
    await eventually(() => dead === 2, 30_000);
    await eventually(async () => (await queue.stats()).deadLettered === 1, 30_000);
    await queue.deadLetters.purge();
    await eventually(async () => (await queue.stats()).deadLettered === 0, 30_000);
    expect(await queue.schedules.remove('tick')).toBe(true);
    await queue.close();
    await store.close();

    const log = (await admin.call('ACL', 'LOG')) as unknown[][];
    const denied = log
      .map((entry) => Object.fromEntries(chunkPairs(entry)))
      .filter((entry) => entry.username === user)
      .map((entry) => `${entry.reason} ${entry.context} ${entry.object}`);
    expect(denied).toEqual([]);

    const cleanup = await createBullmqDriver({ url: 'redis://127.0.0.1:6379' });
    await cleanup.deleteQueue?.(name).catch(() => undefined);
    await cleanup.close();
  });
});

function chunkPairs(entry: readonly unknown[]): [string, unknown][] {
  const pairs: [string, unknown][] = [];
  for (let index = 0; index + 1 < entry.length; index += 2)
    pairs.push([String(entry[index]), entry[index + 1]]);
  return pairs;
}
