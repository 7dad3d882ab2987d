import { createDriver as createBullmqDriver } from '@queuekit/adapter-bullmq';
import { createDriver as createRabbitDriver } from '@queuekit/adapter-rabbitmq';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { Scrubber, secretsOf, urlsInArgv } from '../src/index.js';
import { type CliResult, queueName, runCli, runHere } from './helpers.js';

const SENTINEL = 'SENTINEL-Pa55';

/** Run `jobs` with at most `width` at once (the machine has 2 cores). */
async function limited<T>(jobs: readonly (() => Promise<T>)[], width = 4): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const index = next++;
        results[index] = await (jobs[index] as () => Promise<T>)();
      }
    }),
  );
  return results;
}

function expectNoSentinel(label: string, result: CliResult): void {
  const all = `${result.stdout}\n${result.stderr}`;
  expect(all, label).not.toContain(SENTINEL);
  expect(all, label).not.toContain('SENTINEL%2DPa55');
  expect(all, label).not.toContain('Pa55');
}

describe('credentials never appear in any output', () => {
  const created: string[] = [];
  afterAll(async () => {
    const drivers = await Promise.all([
      createBullmqDriver({ url: 'redis://127.0.0.1:6379' }),
      createRabbitDriver({ url: 'amqp://guest:guest@127.0.0.1:5672' }),
    ]);
    for (const driver of drivers) {
      for (const name of created) await driver.deleteQueue?.(name).catch(() => undefined);
      await driver.close();
    }
  });

  it('masks the password of a working broker URL in every command (RabbitMQ and Redis users)', async () => {
    const urls = [inject('amqpSentinelUrl'), inject('redisSentinelUrl')];
    const storeUrl = inject('redisSentinelUrl');
    expect(urls.every((url) => url.includes(SENTINEL))).toBe(true);
    const jobs: (() => Promise<[string, CliResult]>)[] = [];
    for (const url of urls) {
      const q = queueName('cli-secret');
      created.push(q);
      const viaEnv = { QUEUE_URL: url };
      const commands: [string[], Record<string, string>][] = [
        [['send', q, 'n', '{"x":1}'], viaEnv],
        [['send', q, 'n', '{"x":2}', '--json', '--url', url], {}],
        [['peek', q], viaEnv],
        [['peek', q, '--json', `--url=${url}`], {}],
        [['stats', q], viaEnv],
        [['stats', q, '--json'], viaEnv],
        [['dlq', 'list', q], viaEnv],
        [['dlq', 'list', q, '--json'], viaEnv],
        [['dlq', 'redrive', q, '--all'], viaEnv],
        [['dlq', 'redrive', q, '--id', 'nope', '--json'], viaEnv],
        [['dlq', 'purge', q, '--yes'], viaEnv],
        [['dlq', 'purge', q], viaEnv],
        [['watch', q, '--count', '1'], viaEnv],
        [['watch', q, '--count', '1', '--json'], viaEnv],
        [['schedules', q, '--store', storeUrl], viaEnv],
        [['schedules', q, '--json'], { ...viaEnv, QUEUE_STORE_URL: storeUrl }],
        [['stats', q, '--bogus', '--url', url], {}],
        [['send', q, 'n', '{broken', '--url', url], {}],
      ];
      for (const [args, env] of commands) {
        jobs.push(async () => [`${url.slice(0, 5)} ${args.join(' ')}`, await runCli(args, env)]);
      }
    }
    const results = await limited(jobs);
    for (const [label, result] of results) expectNoSentinel(label, result);
    // The commands really ran against the brokers (not failed early).
    const sends = results.filter(([label]) => / send cli-secret-\w+ n \{"x":1\}$/.test(label));
    expect(sends.map(([, result]) => result.code)).toEqual([0, 0]);
    const stats = results.filter(([label]) => / stats cli-secret-\w+ --json$/.test(label));
    for (const [label, result] of stats)
      expect(JSON.parse(result.stdout), label).toMatchObject({ queues: [{ waiting: 2 }] });
  });

  it('masks the password in every failure: wrong password, broker down, bad URL, store down', async () => {
    const failing: [string[], Record<string, string>][] = [
      [['stats', 'q', '--timeout', '1500'], { QUEUE_URL: `amqp://guest:${SENTINEL}@127.0.0.1:5672` }],
      [['send', 'q', 'n', '{}', '--timeout', '1500'], { QUEUE_URL: `amqp://guest:${SENTINEL}@127.0.0.1:1` }],
      [['stats', 'q', '--timeout', '1500'], { QUEUE_URL: 'amqp://guest:SENTINEL%2DPa55@127.0.0.1:1' }],
      [['stats', 'q', '--timeout', '1500'], { QUEUE_URL: `redis://user:${SENTINEL}@127.0.0.1:1` }],
      [['dlq', 'list', 'q', '--timeout', '3000'], { QUEUE_URL: `redis://nobody:${SENTINEL}@127.0.0.1:6379` }],
      [['stats', 'q', '--url', `redis://user:${SENTINEL}@127.0.0.1:6379/not-a-db`], {}],
      [['stats', 'q', '--url', `foo://user:${SENTINEL}@host`], {}],
      [['stats', 'q'], { QUEUE_URL: `user:${SENTINEL}@not-a-url` }],
      [['sqs-nope', '--url', `sqs://key:${SENTINEL}@queue`], {}],
      [['stats', 'q', '--url', `sqs://key:${SENTINEL}@queue`], {}],
      [
        [
          'stats',
          'q',
          '--url',
          `Endpoint=sb://ns.example/;SharedAccessKeyName=k;SharedAccessKey=${SENTINEL}`,
          '--timeout',
          '1500',
        ],
        {},
      ],
      [['schedules', 'q', '--store', `redis://user:${SENTINEL}@127.0.0.1:1`, '--timeout', '1500'], {}],
    ];
    const results = await limited(
      failing.map(
        ([args, env]) =>
          () =>
            runCli(args, env),
      ),
    );
    for (const [index, result] of results.entries()) {
      const label = JSON.stringify(failing[index]);
      expectNoSentinel(label, result);
      expect(result.code, label).not.toBe(0);
      expect(result.stderr, label).toMatch(/^queuekit: [^\n]+\n$/); // exactly one line
    }
    // Where a line names the URL, it shows the mask.
    expect(results[0]?.stderr).toContain('amqp://guest:***@127.0.0.1:5672');
    expect(results[5]?.stderr).toContain('redis://user:***@127.0.0.1:6379/not-a-db');
    expect(results[6]?.stderr).toContain('foo://user:***@host');
  });

  it('masks the URL shown by a live watch on a terminal', async () => {
    const stop = new AbortController();
    const url = `memory://user:${SENTINEL}@cli-secret-watch`;
    const watching = runHere(
      ['watch', 'jobs', '--interval', '100'],
      { QUEUE_URL: url },
      { tty: true, signal: stop.signal },
    );
    setTimeout(() => stop.abort(), 250);
    const result = await watching;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('queuekit watch  memory://user:***@cli-secret-watch');
    expectNoSentinel('watch', result);
  });

  it('scrubs raw, percent-encoded and query-string secrets', () => {
    expect(secretsOf('amqp://u:p%40ss@h')).toEqual(expect.arrayContaining(['p%40ss', 'p@ss']));
    expect(secretsOf('sqs://q?region=x&secretAccessKey=abc')).toEqual(expect.arrayContaining(['abc']));
    expect(secretsOf('Endpoint=sb://ns/;SharedAccessKeyName=n;SharedAccessKey=k3y=')).toEqual(['k3y=']);
    expect(secretsOf('memory://')).toEqual([]);
    expect(secretsOf('redis://127.0.0.1:6379/0')).toEqual([]);
    expect(secretsOf('user:hunter2@host-without-scheme')).toEqual(['hunter2']);
    expect(
      urlsInArgv([
        'send',
        'q',
        'n',
        '{"to":"ada@example.com"}',
        '--url',
        'amqp://u:pw@h',
        '--store=redis://:s@h',
      ]),
    ).toEqual(['amqp://u:pw@h', 'redis://:s@h']);
    const scrubber = new Scrubber(['amqp://u:p%40ss@h', undefined, 'plain words']);
    expect(scrubber.scrub('failed: p@ss and p%40ss')).toBe('failed: *** and ***');
    expect(scrubber.url('amqp://u:p%40ss@h/vhost')).toBe('amqp://u:***@h/vhost');
  });
});
