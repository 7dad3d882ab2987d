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
    expect(results[0]?.stderr).toMatch(/amqp:\/\/(guest:\*\*\*@)?127\.0\.0\.1:5672/);
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
    expect(secretsOf('Endpoint=sb://ns/;SharedAccessKeyName=n;SharedAccessKey=k3y=')).toEqual(
      expect.arrayContaining(['k3y=']),
    );
    expect(secretsOf('memory://')).toEqual([]);
    expect(secretsOf('redis://127.0.0.1:6379/0')).toEqual([]);
    expect(secretsOf('user:hunter2@host-without-scheme')).toEqual(expect.arrayContaining(['hunter2']));
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

/** The CLI keeps no scrubber of its own: it is core's. */
describe('one scrubber for core and CLI', () => {
  it('re-exports core’s Scrubber and secretsOf', async () => {
    const core = await import('@queuekit/core');
    expect(Scrubber).toBe(core.Scrubber);
    expect(secretsOf).toBe(core.secretsOf);
  });
});

/** Every form of these contains `SENTI`: `/`, `%` (a valid `%4e` and a stray one), `#`, `?`, `@`, spaces. */
const HOSTILE = ['pa/SENTI %#NEL', 'SENTI%4eEL', 'a@b?SENTI#x y', 'k3y/SENTI+=='];

function expectNoHostile(label: string, result: CliResult): void {
  const all = `${result.stdout}\n${result.stderr}`;
  expect(all, label).not.toContain('SENTI');
}

function orders<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, index) =>
    orders([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]),
  );
}

/** Service Bus connection strings in every key order, pointing at a closed port. */
function connectionStrings(secret: string): string[] {
  return orders([
    'Endpoint=sb://127.0.0.1:1/',
    'SharedAccessKeyName=RootManageSharedAccessKey',
    `SharedAccessKey=${secret}`,
    'UseDevelopmentEmulator=true',
  ]).map((keys) => keys.join(';'));
}

/** URLs that cannot work (closed port, unknown scheme, unparseable), holding `secret` raw or encoded. */
function failingUrls(secret: string): string[] {
  const encoded = encodeURIComponent(secret);
  return [
    `redis://app:${secret}@127.0.0.1:1`,
    `redis://app:${encoded}@127.0.0.1:1/0`,
    `amqp://app:${secret}@127.0.0.1:1/vhost`,
    `amqp://app:${encoded}@127.0.0.1:1?heartbeat=5&access_token=${encoded}`,
    `foo://user:${secret}@host`,
    `redis://user:${secret}@[bad`,
    `sqs://?region=eu-west-1&endpoint=http://127.0.0.1:1&sig=${encoded}&pwd=${encoded}&apikey=${encoded}`,
    `pubsub://project?auth=${encoded}&sas=${encoded}&pass=${encoded}`,
  ];
}

/** Every command, each way it reads a URL. */
function commandsFor(url: string): [string[], Record<string, string>][] {
  const t = ['--timeout', '1500'];
  return [
    [['stats', 'q', ...t], { QUEUE_URL: url }],
    [['stats', 'q', '--json', '--url', url, ...t], {}],
    [['peek', 'q', `--url=${url}`, ...t], {}],
    [['send', 'q', 'n', '{}', ...t], { QUEUE_URL: url }],
    [['dlq', 'list', 'q', ...t], { QUEUE_URL: url }],
    [['dlq', 'redrive', 'q', '--all', ...t], { QUEUE_URL: url }],
    [['dlq', 'purge', 'q', '--yes', '--json', ...t], { QUEUE_URL: url }],
    [['watch', 'q', '--count', '1', ...t], { QUEUE_URL: url }],
    [['stats', 'q', '--bogus', '--url', url], {}],
    [['schedules', 'q', '--store', url, ...t], {}],
    [['schedules', 'q', '--json', ...t], { QUEUE_STORE_URL: url }],
  ];
}

describe('hostile passwords (/, %, #, spaces, any key order) never appear in any output', () => {
  it('every command on every failing URL form, in-process (stdout and stderr)', async () => {
    const runs: (() => Promise<[string, CliResult]>)[] = [];
    for (const secret of HOSTILE) {
      for (const url of [...failingUrls(secret), ...connectionStrings(secret)]) {
        for (const [args, env] of commandsFor(url)) {
          runs.push(async () => [`${JSON.stringify(env)} ${args.join(' ')}`, await runHere(args, env)]);
        }
      }
    }
    const results = await limited(runs, 8);
    for (const [label, result] of results) {
      expectNoHostile(label, result);
      expect(result.code, label).not.toBe(0);
      expect(result.stderr, label).toMatch(/^queuekit: [^\n]+\n$/);
    }
    // The connection-string order that used to leak ("bad queue URL ..." with the key): where a line
    // names the connection string, it shows the key masked.
    const reordered = results.filter(([label]) => label.startsWith('{"QUEUE_URL":"SharedAccessKeyName='));
    expect(reordered.length).toBeGreaterThan(0);
    for (const [label, result] of reordered) {
      if (result.stderr.includes('SharedAccessKeyName='))
        expect(result.stderr, label).toContain('SharedAccessKey=***');
    }
  });

  it('the same failures through the binary (its crash handler included)', async () => {
    const secret = HOSTILE[0] as string;
    const runs = [
      `SharedAccessKeyName=k;SharedAccessKey=${secret};Endpoint=sb://127.0.0.1:1/`,
      `redis://app:${secret}@127.0.0.1:1`,
      `amqp://app:${encodeURIComponent(secret)}@127.0.0.1:1`,
    ].flatMap((url) => [
      () => runCli(['stats', 'q', '--timeout', '1500'], { QUEUE_URL: url }),
      () => runCli(['schedules', 'q', '--store', url, '--timeout', '1500'], {}),
    ]);
    for (const [index, result] of (await limited(runs)).entries()) {
      expectNoHostile(String(index), result);
      expect(result.code, String(index)).not.toBe(0);
    }
  });

  it('every command against RabbitMQ and Redis users whose password is hostile', async () => {
    const urls = [inject('amqpHostileUrl'), inject('redisHostileUrl')];
    // One broker's commands run in order (stats must see the job send left, before watch takes it); the two
    // brokers run side by side.
    const runsOf: (() => Promise<[string, CliResult]>)[][] = [];
    const queues: string[] = [];
    for (const url of urls) {
      const runs: (() => Promise<[string, CliResult]>)[] = [];
      runsOf.push(runs);
      const q = queueName('cli-hostile');
      queues.push(q);
      const env = { QUEUE_URL: url };
      for (const args of [
        ['send', q, 'n', '{"x":1}'],
        ['peek', q],
        ['stats', q, '--json'],
        ['dlq', 'list', q],
        ['dlq', 'redrive', q, '--all'],
        ['dlq', 'purge', q, '--yes'],
        ['watch', q, '--count', '1'],
        ['schedules', q, '--store', inject('redisHostileUrl')],
        ['stats', q, '--url', url.replace(/:[^:/@]*@/, ':wrong@'), '--timeout', '3000'],
      ]) {
        runs.push(async () => [`${url.slice(0, 5)} ${args.join(' ')}`, await runHere(args, env)]);
      }
    }
    const results = (await Promise.all(runsOf.map((runs) => limited(runs, 1)))).flat();
    for (const [label, result] of results) expectNoHostile(label, result);
    // Each command really ran (the success paths print broker data); the wrong password failed.
    for (const [label, result] of results) {
      if (label.includes(':wrong@')) expect(result.code, label).not.toBe(0);
      else if (!result.stderr.includes('[ERR_UNSUPPORTED_FEATURE]')) {
        expect(result.code, `${label}: ${result.stderr}`).toBe(0);
      }
    }
    const stats = results.filter(([label]) => / stats cli-hostile-\w+ --json$/.test(label));
    for (const [label, result] of stats) {
      expect(JSON.parse(result.stdout), label).toMatchObject({ queues: [{ waiting: 1 }] });
    }
    const drivers = await Promise.all([
      createBullmqDriver({ url: 'redis://127.0.0.1:6379' }),
      createRabbitDriver({ url: 'amqp://guest:guest@127.0.0.1:5672' }),
    ]);
    for (const driver of drivers) {
      for (const name of queues) await driver.deleteQueue?.(name).catch(() => undefined);
      await driver.close();
    }
  });
});
