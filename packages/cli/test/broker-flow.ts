import { createQueue, type Driver, UnrecoverableError } from '@queuekit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, json, queueName, runCli, startCli } from './helpers.js';

/** How to reach one real broker from the tests. */
export interface BrokerTarget {
  /** Label of the describe block. */
  readonly label: string;
  /** Queue URL of the running broker. */
  readonly url: string;
  /** A URL where nothing listens (port 1), for the broker-down cases. */
  readonly downUrl: string;
  /** A driver on the broker, made the way the adapter's own tests do. */
  readonly driver: () => Driver | Promise<Driver>;
}

/** Fail every waiting job of `name` for good, until `count` are dead-lettered. */
async function deadLetterAll(target: BrokerTarget, name: string, count: number): Promise<void> {
  const worker = createQueue({ name, driver: await target.driver(), ownsDriver: true });
  let dead = 0;
  worker.on('dead-lettered', () => {
    dead++;
  });
  worker.process(async () => {
    throw new UnrecoverableError('bad input');
  });
  try {
    await eventually(() => dead >= count, 20_000);
  } finally {
    await worker.close({ timeout: 2_000 });
  }
}

/**
 * The whole CLI, as a user runs it (`node dist/cli.js`), against one real broker: send → peek → stats →
 * dlq list / redrive / purge → watch, JSON shapes, and a broker that is down.
 */
export function describeBrokerFlow(target: BrokerTarget): void {
  describe(`queuekit against ${target.label}`, () => {
    const env = { QUEUE_URL: target.url };
    const created: string[] = [];
    const queue = () => {
      const name = queueName();
      created.push(name);
      return name;
    };

    afterAll(async () => {
      const driver = await target.driver();
      for (const name of created) await driver.deleteQueue?.(name).catch(() => undefined);
      await driver.close();
    });

    it('sends, peeks, counts, dead-letters, redrives and purges', async () => {
      const q = queue();
      const probe = await target.driver();
      const canPeek = typeof probe.peek === 'function';
      const canDedup = probe.capabilities.dedup;
      await probe.close();

      const first = await runCli(['send', q, 'resize', '{"w":128}', '--header', 'trace=abc'], env);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(new RegExp(`^Sent resize to ${q}: id [\\w-]+\\n$`));
      const second = json<{ queue: string; id: string; name: string }>(
        await runCli(
          [
            'send',
            q,
            'resize',
            '{"w":256}',
            '--priority',
            '3',
            '--json',
            ...(canDedup ? ['--job-id', 'img-2'] : []),
          ],
          env,
        ),
      );
      expect(second).toMatchObject({ queue: q, name: 'resize' });
      if (canDedup) expect(second.id).toBe('img-2');

      const peeked = await runCli(['peek', q, '--json'], env);
      if (canPeek) {
        expect(peeked.code).toBe(0);
        const jobs = json<{ jobs: { name: string; data: unknown; headers: Record<string, string> }[] }>(
          peeked,
        ).jobs;
        expect(jobs).toHaveLength(2);
        expect(jobs.map((job) => job.data)).toEqual(expect.arrayContaining([{ w: 128 }, { w: 256 }]));
        expect(jobs.find((job) => (job.data as { w: number }).w === 128)?.headers).toEqual({ trace: 'abc' });
      } else {
        expect(peeked.code).toBe(1);
        expect(peeked.stdout).toBe('');
        expect(peeked.stderr).toMatch(
          /^queuekit: The \w+ driver does not support peek \[ERR_UNSUPPORTED_FEATURE\]\n$/,
        );
      }

      const stats = json<{ queues: Record<string, number | null>[] }>(
        await runCli(['stats', q, '--json'], env),
      );
      expect(stats.queues).toHaveLength(1);
      expect(Object.keys(stats.queues[0] ?? {}).sort()).toEqual([
        'active',
        'deadLettered',
        'delayed',
        'queue',
        'waiting',
      ]);
      expect(stats.queues[0]).toMatchObject({ queue: q, waiting: 2, deadLettered: 0 });
      const table = await runCli(['stats', q], env);
      expect(table.stdout).toMatch(
        new RegExp(`^QUEUE\\s+WAITING\\s+DELAYED\\s+ACTIVE\\s+DEAD-LETTERED\\n${q}\\s+2\\s`),
      );

      await deadLetterAll(target, q, 2);
      const listed = json<{
        deadLetters: { id: string; reason: string; error: string; attempts: number; data: unknown }[];
      }>(await runCli(['dlq', 'list', q, '--json'], env));
      expect(listed.deadLetters).toHaveLength(2);
      for (const record of listed.deadLetters) {
        expect(record).toMatchObject({ reason: 'unrecoverable', error: 'bad input', attempts: 1 });
      }
      const human = await runCli(['dlq', 'list', q], env);
      expect(human.stdout.split('\n')).toHaveLength(4); // header, two rows, final newline
      expect(human.stdout).toContain('unrecoverable');

      const one = json(
        await runCli(['dlq', 'redrive', q, '--id', listed.deadLetters[0]?.id as string, '--json'], env),
      );
      expect(one).toEqual({ queue: q, redriven: 1, requested: 1 });
      const rest = await runCli(['dlq', 'redrive', q, '--all'], env);
      expect(rest.code).toBe(0);
      expect(rest.stdout).toBe(`Redrove 1 dead-lettered job(s) of ${q}.\n`);
      await eventually(async () => {
        const now = json<{ queues: { waiting: number; deadLettered: number }[] }>(
          await runCli(['stats', q, '--json'], env),
        ).queues[0];
        return now?.waiting === 2 && now.deadLettered === 0;
      });

      await deadLetterAll(target, q, 2);
      const refused = await runCli(['dlq', 'purge', q], env);
      expect(refused.code).toBe(2); // stdin is not a terminal: no one to ask
      expect(refused.stderr).toContain('refusing to purge without --yes');
      expect(json(await runCli(['dlq', 'purge', q, '--yes', '--json'], env))).toEqual({
        queue: q,
        purged: 2,
      });
      expect((await runCli(['dlq', 'list', q], env)).stdout).toBe(`No dead-lettered jobs in ${q}.\n`);
    });

    it('watches live stats until Ctrl-C', async () => {
      const q = queue();
      await runCli(['send', q, 'tick', '{}'], env);
      const watching = startCli(['watch', q, '--interval', '200', '--url', target.url]);
      await watching.waitForStdout(`${q} waiting=1`);
      watching.kill('SIGINT');
      const result = await watching.done;
      expect(result.code).toBe(0);
      expect(result.stderr).toBe('');
      expect(result.stdout.trim().split('\n')[0]).toMatch(
        new RegExp(
          `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ ${q} waiting=1 delayed=\\S+ active=\\S+ dead-lettered=0$`,
        ),
      );
      const ndjson = await runCli(['watch', q, '--interval', '100', '--count', '2', '--json'], env);
      const lines = ndjson.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { queues: unknown[] });
      expect(lines).toHaveLength(2);
      expect(lines[1]?.queues).toEqual([expect.objectContaining({ queue: q, waiting: 1 })]);
    });

    it('fails fast, in one line, when the broker is down', async () => {
      const commands = [
        ['send', 'q', 'n', '{}'],
        ['peek', 'q'],
        ['stats', 'q'],
        ['dlq', 'list', 'q'],
        ['dlq', 'redrive', 'q', '--all'],
        ['dlq', 'purge', 'q', '--yes'],
        ['watch', 'q'],
      ];
      const probe = await target.driver();
      const canPeek = typeof probe.peek === 'function';
      await probe.close();
      const results = await Promise.all(
        commands.map((args) => runCli([...args, '--timeout', '2000'], { QUEUE_URL: target.downUrl })),
      );
      for (const [index, result] of results.entries()) {
        const what = commands[index]?.join(' ');
        expect(result.code, what).toBe(1);
        expect(result.stdout, what).toBe('');
        // A driver without peek says so at once, broker up or down; every other command names the outage.
        const expected =
          what === 'peek q' && !canPeek
            ? /^queuekit: .*\[ERR_UNSUPPORTED_FEATURE\]\n$/
            : /^queuekit: .*\[ERR_(BROKER_UNAVAILABLE|TIMEOUT)\]\n$/;
        expect(result.stderr, what).toMatch(expected);
        expect(result.ms, what).toBeLessThan(15_000);
      }
    });
  });
}
