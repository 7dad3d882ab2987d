import { writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createMemoryDriver,
  createQueue,
  type Driver,
  type Queue,
  registerScheme,
  UnrecoverableError,
} from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, json, queueName, runHere } from './helpers.js';

/** A memory broker of its own per test: `memory://NAME` is shared by every driver of this process. */
function memoryUrl(): string {
  return `memory://${queueName('broker')}`;
}

const open: Queue[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((queue) => queue.close({ timeout: 1_000 })));
});

/** Dead-letter `count` jobs of `name` on `url` with a worker that fails them for good. */
async function deadLetter(url: string, name: string, count: number): Promise<string[]> {
  const queue = createQueue<{ n: number }>({ name, url });
  const ids: string[] = [];
  for (let n = 0; n < count; n++) ids.push(await queue.send('doomed', { n }));
  let dead = 0;
  queue.on('dead-lettered', () => {
    dead++;
  });
  queue.process(async () => {
    throw new UnrecoverableError('bad input');
  });
  await eventually(() => dead === count);
  await queue.close();
  return ids;
}

describe('in-process run() on memory://', () => {
  it('sends, peeks and counts, in tables and in JSON', async () => {
    const env = { QUEUE_URL: memoryUrl() };
    const q = queueName();
    const sent = await runHere(['send', q, 'welcome', '{"to":"ada@example.com"}', '--priority', '7'], env);
    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(/^Sent welcome to cli-\w+: id [\w-]+\n$/);
    const second = json<{ queue: string; id: string; name: string }>(
      await runHere(['send', q, 'later', '--json', '--delay', '60000', '--job-id', 'job-42'], env),
    );
    expect(second).toEqual({ queue: q, id: 'job-42', name: 'later' });

    const peeked = json<{ queue: string; jobs: Record<string, unknown>[] }>(
      await runHere(['peek', q, '--json'], env),
    );
    expect(peeked.queue).toBe(q);
    expect(peeked.jobs).toHaveLength(2);
    expect(peeked.jobs[0]).toMatchObject({
      name: 'welcome',
      data: { to: 'ada@example.com' },
      priority: 7,
      attempt: 1,
      headers: {},
      runAt: null,
    });
    expect(peeked.jobs[1]).toMatchObject({ id: 'job-42', name: 'later', data: null, priority: 0 });
    expect(Date.parse(String(peeked.jobs[1]?.runAt)) - Date.now()).toBeGreaterThan(50_000);
    expect(Object.keys(peeked.jobs[0] ?? {}).sort()).toEqual(
      ['attempt', 'data', 'enqueuedAt', 'headers', 'id', 'name', 'priority', 'runAt'].sort(),
    );

    const table = await runHere(['peek', q], env);
    expect(table.stdout.split('\n')[0]).toMatch(
      /^ID\s+NAME\s+PRIORITY\s+ATTEMPT\s+ENQUEUED\s+RUN AT\s+DATA$/,
    );
    expect(table.stdout).toContain('{"to":"ada@example.com"}');

    const stats = json<{ queues: Record<string, unknown>[] }>(await runHere(['stats', q, '--json'], env));
    expect(stats).toEqual({ queues: [{ queue: q, waiting: 1, delayed: 1, active: 0, deadLettered: 0 }] });
    const human = await runHere(['stats', q, 'other-queue'], env);
    expect(human.code).toBe(0);
    expect(human.stdout.split('\n').slice(0, 3)).toEqual([
      expect.stringMatching(/^QUEUE\s+WAITING\s+DELAYED\s+ACTIVE\s+DEAD-LETTERED$/),
      expect.stringMatching(new RegExp(`^${q}\\s+1\\s+1\\s+0\\s+0$`)),
      expect.stringMatching(/^other-queue\s+0\s+0\s+0\s+0$/),
    ]);
  });

  it('reads the payload from a file or from stdin, and rejects bad JSON with exit 2', async () => {
    const env = { QUEUE_URL: memoryUrl() };
    const q = queueName();
    const dir = await mkdtemp(join(tmpdir(), 'queuekit-cli-'));
    await writeFile(join(dir, 'job.json'), '{"from":"file"}');
    expect((await runHere(['send', q, 'a', '--file', 'job.json'], env, { cwd: dir })).code).toBe(0);
    const fromStdin = await runHere(['send', q, 'b', '--file', '-'], env, {
      readStdin: async () => '{"from":"stdin"}',
    });
    expect(fromStdin.code).toBe(0);
    const jobs = json<{ jobs: { data: unknown }[] }>(await runHere(['peek', q, '--json'], env)).jobs;
    expect(jobs.map((job) => job.data)).toEqual([{ from: 'file' }, { from: 'stdin' }]);

    const bad = await runHere(['send', q, 'c', '{not json'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^queuekit: the payload is not valid JSON: .*\n$/);
    expect(bad.stdout).toBe('');
    const missing = await runHere(['send', q, 'c', '--file', 'nope.json'], env, { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read --file nope.json: ENOENT');
  });

  it('lists, redrives by id and all, and purges dead letters', async () => {
    const url = memoryUrl();
    const env = { QUEUE_URL: url };
    const q = queueName();
    const ids = await deadLetter(url, q, 3);

    const listed = json<{ queue: string; deadLetters: Record<string, unknown>[] }>(
      await runHere(['dlq', 'list', q, '--json'], env),
    );
    expect(listed.queue).toBe(q);
    expect(listed.deadLetters).toHaveLength(3);
    expect(listed.deadLetters[0]).toMatchObject({
      name: 'doomed',
      reason: 'unrecoverable',
      error: 'bad input',
      attempts: 1,
      decodable: true,
      bodyBase64: null,
    });
    expect(Object.keys(listed.deadLetters[0] ?? {}).sort()).toEqual(
      [
        'attempts',
        'bodyBase64',
        'data',
        'deadLetteredAt',
        'decodable',
        'error',
        'headers',
        'id',
        'name',
        'reason',
      ].sort(),
    );
    expect(listed.deadLetters.map((record) => record.id).sort()).toEqual([...ids].sort());
    const table = await runHere(['dlq', 'list', q], env);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+REASON\s+ATTEMPTS\s+DEAD-LETTERED\s+ERROR\s+DATA\n/);
    expect(table.stdout).toContain('unrecoverable');

    const one = json(await runHere(['dlq', 'redrive', q, '--id', ids[0] as string, '--json'], env));
    expect(one).toEqual({ queue: q, redriven: 1, requested: 1 });
    const rest = await runHere(['dlq', 'redrive', q, '--all'], env);
    expect(rest.code).toBe(0);
    expect(rest.stdout).toBe(`Redrove 2 dead-lettered job(s) of ${q}.\n`);
    expect(rest.stderr).toBe(''); // not a terminal: no progress drawn
    expect(json(await runHere(['stats', q, '--json'], env))).toEqual({
      queues: [{ queue: q, waiting: 3, delayed: 0, active: 0, deadLettered: 0 }],
    });
    const redriven = json<{ jobs: { attempt: number }[] }>(await runHere(['peek', q, '--json'], env)).jobs;
    expect(redriven.map((job) => job.attempt)).toEqual([1, 1, 1]);

    // Dead-letter them again (the redriven copies) and purge.
    const worker = createQueue({ name: q, url });
    open.push(worker);
    let dead = 0;
    worker.on('dead-lettered', () => {
      dead++;
    });
    worker.process(async () => {
      throw new UnrecoverableError('still bad');
    });
    await eventually(() => dead === 3);
    await worker.close();

    const refused = await runHere(['dlq', 'purge', q], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('refusing to purge without --yes');
    const declined = await runHere(['dlq', 'purge', q], env, { confirm: async () => false });
    expect(declined.code).toBe(1);
    expect(declined.stderr).toBe('queuekit: purge cancelled\n');
    const questions: string[] = [];
    const purged = await runHere(['dlq', 'purge', q, '--json'], env, {
      confirm: async (question) => {
        questions.push(question);
        return true;
      },
    });
    expect(questions).toEqual([`Delete 3 dead-lettered job(s) of ${q}? [y/N] `]);
    expect(json(purged)).toEqual({ queue: q, purged: 3 });
    expect(json(await runHere(['dlq', 'list', q, '--json'], env))).toEqual({ queue: q, deadLetters: [] });
    expect((await runHere(['dlq', 'list', q], env)).stdout).toBe(`No dead-lettered jobs in ${q}.\n`);
  });

  it('draws a progress bar on stderr when it is a terminal', async () => {
    const url = memoryUrl();
    const env = { QUEUE_URL: url };
    const q = queueName();
    const ids = await deadLetter(url, q, 6);
    const byId = await runHere(
      ['dlq', 'redrive', q, ...ids.slice(0, 4).flatMap((id) => ['--id', id]), '--chunk', '1'],
      env,
      {
        tty: true,
      },
    );
    expect(byId.code).toBe(0);
    const frames = byId.stderr.split('\r\x1b[K').filter(Boolean);
    expect(frames).toEqual([
      `[${'.'.repeat(30)}]   0% 0/4 redriven`,
      expect.stringMatching(/^\[#{8}\.{22}\] {2}25% 1\/4 redriven$/),
      expect.stringMatching(/^\[#{15}\.{15}\] {2}50% 2\/4 redriven$/),
      expect.stringMatching(/^\[#{23}\.{7}\] {2}75% 3\/4 redriven$/),
      `[${'#'.repeat(30)}] 100% 4/4 redriven`,
    ]);
    expect(byId.stdout).toBe(`Redrove 4 dead-lettered job(s) of ${q} (4 id(s) requested).\n`);

    const all = await runHere(['dlq', 'redrive', q, '--all'], env, { tty: true });
    expect(all.code).toBe(0);
    expect(all.stderr).toContain('0/2 redriven');
    expect(all.stderr).toContain('100% 2/2 redriven');
    expect(all.stderr.endsWith('\r\x1b[K')).toBe(true); // the line is cleared at the end
  });

  it('says how to see schedules when no store is given', async () => {
    const result = await runHere(['schedules', queueName()], {});
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^queuekit: schedules live in the queue store: pass --store .*\n$/);
    const wrongStore = await runHere(
      ['schedules', queueName(), '--store', 'postgres://u:SENTINEL-Pa55@h/db'],
      {},
    );
    expect(wrongStore.code).toBe(2);
    expect(wrongStore.stderr).toContain('--store supports redis:// and rediss://');
    expect(wrongStore.stderr).not.toContain('SENTINEL-Pa55');
  });

  it('watches until the count of refreshes or until interrupted', async () => {
    const env = { QUEUE_URL: memoryUrl() };
    const q = queueName();
    await runHere(['send', q, 'x', '1'], env);
    const counted = await runHere(['watch', q, '--interval', '100', '--count', '3', '--json'], env);
    expect(counted.code).toBe(0);
    const lines = counted.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).toEqual({
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        queues: [{ queue: q, waiting: 1, delayed: 0, active: 0, deadLettered: 0 }],
        error: null,
      });
    }

    const stop = new AbortController();
    const watching = runHere(['watch', q, '--interval', '100'], env, { signal: stop.signal, tty: true });
    setTimeout(() => stop.abort(), 350);
    const live = await watching;
    expect(live.code).toBe(0);
    expect(live.stdout).toContain('queuekit watch');
    expect(live.stdout).toContain('(Ctrl-C to stop)');
    expect(live.stdout).toMatch(new RegExp(`${q}\\s+1\\s+0\\s+0\\s+0`));
    expect(live.stdout).toContain('\x1b[4F\x1b[J'); // redrawn in place (header, blank, title, row)

    const logged = await runHere(['watch', q, '--interval', '100', '--count', '2'], env);
    expect(logged.stdout.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`Z ${q} waiting=1 delayed=0 active=0 dead-lettered=0$`)),
      expect.stringMatching(new RegExp(`Z ${q} waiting=1 delayed=0 active=0 dead-lettered=0$`)),
    ]);
  });

  it('reports a driver without peek in one line, exit 1', async () => {
    registerScheme('nopeek', async () => () => {
      const driver = createMemoryDriver({ url: 'memory://nopeek' });
      const { peek: _peek, ...rest } = Object.getOwnPropertyDescriptors(Object.getPrototypeOf(driver));
      return Object.create(Object.getPrototypeOf(Object.getPrototypeOf(driver)) ?? null, {
        ...rest,
        ...Object.getOwnPropertyDescriptors(driver),
      }) as Driver;
    });
    const result = await runHere(['peek', 'jobs'], { QUEUE_URL: 'nopeek://x' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'queuekit: The memory driver does not support peek [ERR_UNSUPPORTED_FEATURE]\n',
    );
  });

  it('rejects command-line mistakes with one line and exit 2', async () => {
    const env = { QUEUE_URL: memoryUrl() };
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command `frobnicate`/],
      [['dlq'], /`dlq` needs list, redrive or purge/],
      [['dlq', 'shred', 'q'], /unknown command `dlq shred`/],
      [['stats'], /`stats` needs <queue\.\.\.>/],
      [['send', 'q'], /`send` needs <queue> <name>/],
      [['peek', 'q', '--bogus'], /Unknown option '--bogus'/],
      [['peek', 'q', '--all'], /`peek` does not take --all/],
      [['peek', 'q', '--limit', 'ten'], /--limit expects an integer, got "ten"/],
      [['send', 'q', 'n', '--priority', '12'], /--priority must be between 0 and 9/],
      [['dlq', 'redrive', 'q'], /give --id ID \(repeatable\) or --all/],
      [['dlq', 'redrive', 'q', '--all', '--id', 'a'], /either --id or --all/],
      [['send', 'bad name!', 'n'], /invalid input: Invalid option `name`/],
    ];
    for (const [args, pattern] of cases) {
      const result = await runHere(args, env);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(pattern);
      expect(result.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
      expect(result.stdout, args.join(' ')).toBe('');
    }
    const noUrl = await runHere(['stats', 'q'], {});
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toBe(
      'queuekit: no queue URL: set QUEUE_URL or pass --url (see `queuekit --help`)\n',
    );
  });

  it('prints help and the version', async () => {
    const help = await runHere(['--help'], {});
    expect(help.code).toBe(0);
    for (const command of [
      'send',
      'peek',
      'stats',
      'dlq list',
      'dlq redrive',
      'dlq purge',
      'schedules',
      'watch',
    ]) {
      expect(help.stdout).toContain(`  ${command} `);
    }
    const sub = await runHere(['dlq', 'redrive', '--help'], {});
    expect(sub.stdout).toMatch(/^Usage: queuekit dlq redrive <queue> \(--id id/);
    const bare = await runHere([], {});
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Usage: queuekit');
    expect((await runHere(['--version'], {})).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
