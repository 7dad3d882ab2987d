import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { createQueue, type Queue, UnrecoverableError } from '@queuekit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, queueName } from './helpers.js';

/**
 * The RabbitMQ permissions that docs/security.md documents, granted as written to a user on a vhost of its
 * own, are enough for a whole workload and refuse a queue outside the pattern.
 */
const run = promisify(execFile);
const rabbitmqctl = (args: readonly string[]) => run('rabbitmqctl', ['-q', ...args], { timeout: 30_000 });

function documentedPermissions(): [string, string, string] {
  const doc = readFileSync(new URL('../../../docs/security.md', import.meta.url), 'utf8');
  const match = /`rabbitmqctl set_permissions -p \/prod app "([^"]+)" "([^"]+)" "([^"]+)"`/.exec(doc);
  if (!match) throw new Error('docs/security.md has no `rabbitmqctl set_permissions -p /prod app ...` line');
  // The doc is Markdown: `\\.` there is the regex `\.`.
  const [, configure, write, read] = match.map((part) => part.replace(/\\\\/g, '\\'));
  return [configure as string, write as string, read as string];
}

const vhost = queueName('qk-perm');
const user = `${vhost}-app`;
const password = 'perm-test-Pa55';
const FAST = { type: 'fixed', delay: 100 } as const;
const base = `amqp://${user}:${password}@127.0.0.1:5672/${encodeURIComponent(vhost)}`;

beforeAll(async () => {
  await rabbitmqctl(['add_vhost', vhost]);
  await rabbitmqctl(['add_user', user, password]);
  await rabbitmqctl(['set_permissions', '-p', vhost, user, ...documentedPermissions()]);
});

afterAll(async () => {
  await rabbitmqctl(['delete_vhost', vhost]).catch(() => undefined);
  await rabbitmqctl(['delete_user', user]).catch(() => undefined);
});

async function workload(queue: Queue<{ kind: string }>): Promise<void> {
  await queue.send('ok', { kind: 'ok' }, { priority: 7 });
  await queue.send('late', { kind: 'ok' }, { delay: 300 });
  await queue.send('flaky', { kind: 'flaky' });
  await queue.send('doomed', { kind: 'doomed' });
  expect((await queue.stats()).waiting).toBeGreaterThanOrEqual(1);
  let completed = 0;
  let dead = 0;
  let flakyRuns = 0;
  queue.on('completed', () => {
    completed++;
  });
  queue.on('dead-lettered', () => {
    dead++;
  });
  queue.process(async (job) => {
    if (job.data.kind === 'doomed') throw new UnrecoverableError('bad input');
    if (job.data.kind === 'flaky' && flakyRuns++ === 0) throw new Error('try again');
  });
  await eventually(() => completed === 3 && dead === 1, 30_000);
  expect((await queue.deadLetters.list()).map((record) => record.name)).toEqual(['doomed']);
  expect(await queue.deadLetters.redrive()).toBe(1);
  await eventually(() => dead === 2, 30_000);
  expect(await queue.deadLetters.purge()).toBe(1);
  await queue.close();
}

describe('the RabbitMQ permissions in docs/security.md', () => {
  it('are enough for a classic queue: send, delay, priority, retry, dead letters', async () => {
    await workload(createQueue({ name: 'jobs', url: base, defaults: { backoff: FAST } }));
  });

  it('are enough for a quorum queue with emulated priority bands', async () => {
    await workload(
      createQueue({ name: 'jobs-quorum', url: `${base}?queueType=quorum`, defaults: { backoff: FAST } }),
    );
  });

  it('refuse a queue outside the pattern', async () => {
    const queue = createQueue({ name: 'other', url: base });
    await expect(queue.send('n', {})).rejects.toThrow(/access|refused|permission/i);
    await queue.close();
  });
});
