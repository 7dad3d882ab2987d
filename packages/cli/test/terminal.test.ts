import {
  createMemoryDriver,
  createQueue,
  type Queue,
  registerScheme,
  UnrecoverableError,
} from '@queuekit/core';
import { createRedisStore } from '@queuekit/store-redis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { jsonText, visible } from '../src/index.js';
import { type CliResult, eventually, queueName, runHere } from './helpers.js';

/** A terminal title change (OSC 0) and a screen clear (CSI 2J), as a hostile producer would send them. */
const TITLE = '\x1b]0;pwned\x07';
const CLEAR = '\x1b[2J';
/** C1 CSI, DEL, a right-to-left override and a carriage return (rewrites the line). */
const OTHERS = '\x9b31m\x7f\u202egnp.exe\r';
const HOSTILE = `${TITLE}job${CLEAR}${OTHERS}`;

/** What a terminal acts on: C0 but \n (and \t), DEL, C1, bidi controls, line separators. */
const RAW_CONTROL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

function expectInert(label: string, result: CliResult): void {
  expect(`${result.stdout}${result.stderr}`, label).not.toMatch(RAW_CONTROL);
}

const open: Queue[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((queue) => queue.close({ timeout: 1_000 })));
});

describe('broker data cannot drive the terminal', () => {
  it('shows control characters as escapes, and is idempotent', () => {
    expect(visible(`${TITLE}${CLEAR}`)).toBe('\\x1b]0;pwned\\x07\\x1b[2J');
    expect(visible('\u202e\x9b\x7f\r')).toBe('\\u202e\\x9b\\x7f\\x0d');
    expect(visible('tab\tnew\nline é ü 日本')).toBe('tab\tnew\nline é ü 日本');
    expect(visible(visible(HOSTILE))).toBe(visible(HOSTILE));
    expect(JSON.parse(jsonText({ name: HOSTILE }))).toEqual({ name: HOSTILE });
    expect(jsonText({ name: HOSTILE })).not.toMatch(RAW_CONTROL);
  });

  it('peek and dlq list: names, payloads and errors', async () => {
    const env = { QUEUE_URL: `memory://${queueName('hostile')}` };
    const q = queueName();
    const queue = createQueue<{ note: string }>({ name: q, url: env.QUEUE_URL });
    open.push(queue);
    await queue.send(HOSTILE, { note: HOSTILE }, { headers: { note: HOSTILE } });

    const peek = await runHere(['peek', q], env);
    expect(peek.code).toBe(0);
    expectInert('peek', peek);
    expect(peek.stdout).toContain('\\x1b]0;pwned\\x07job\\x1b[2J');
    const peekJson = await runHere(['peek', q, '--json'], env);
    expectInert('peek --json', peekJson);
    const parsed = JSON.parse(peekJson.stdout) as {
      jobs: { name: string; data: unknown; headers: unknown }[];
    };
    expect(parsed.jobs[0]).toMatchObject({
      name: HOSTILE,
      data: { note: HOSTILE },
      headers: { note: HOSTILE },
    });

    let dead = 0;
    queue.on('dead-lettered', () => {
      dead++;
    });
    queue.process(async () => {
      throw new UnrecoverableError(`failed: ${HOSTILE}`);
    });
    await eventually(() => dead === 1);
    const list = await runHere(['dlq', 'list', q], env);
    expect(list.code).toBe(0);
    expectInert('dlq list', list);
    expect(list.stdout).toContain('failed: \\x1b]0;pwned\\x07');
    const listJson = await runHere(['dlq', 'list', q, '--json'], env);
    expectInert('dlq list --json', listJson);
    const records = (JSON.parse(listJson.stdout) as { deadLetters: { name: string; error: string }[] })
      .deadLetters;
    expect(records[0]?.name).toBe(HOSTILE);
    expect(records[0]?.error).toContain(HOSTILE);
  });

  it('watch: a failed refresh whose error text is hostile, on a terminal and in logs', async () => {
    const scheme = `hostile${queueName('').replace(/[^a-z0-9]/g, '')}`;
    let calls = 0;
    registerScheme(scheme, async () => (options) => {
      const driver = createMemoryDriver({ url: `memory://${scheme}` });
      const stats = driver.stats.bind(driver);
      driver.stats = async (name) => {
        calls++;
        if (calls > 1) throw new Error(`broker says ${HOSTILE}`);
        return stats(name);
      };
      void options;
      return driver;
    });
    for (const tty of [false, true]) {
      calls = 0;
      const result = await runHere(
        ['watch', 'jobs', '--count', '2', '--interval', '100'],
        { QUEUE_URL: `${scheme}://x` },
        { tty },
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('broker says \\x1b]0;pwned\\x07');
      // The only raw escapes are the redraw of the frame on a terminal.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the redraw sequence itself.
      const own = result.stdout.replace(/\x1b\[\d+F\x1b\[J/g, '');
      expect(own, `tty=${tty}`).not.toMatch(RAW_CONTROL);
      if (!tty) expect(result.stdout).not.toContain('\x1b[');
    }
  });

  describe('schedules from a shared Redis store', () => {
    const prefix = `${queueName('qk-cli-hostile')}:`;
    const store = createRedisStore({ url: 'redis://127.0.0.1:6379', prefix });
    afterAll(async () => {
      for (const key of await store.keys('')) await store.delete(key);
      await store.close();
    });

    it('shows hostile schedule names, job names and data as escapes', async () => {
      const q = queueName();
      const owner = createQueue({ name: q, url: 'memory://cli-hostile-schedules', store });
      open.push(owner);
      await owner.schedule('nightly', { every: 60_000, jobName: HOSTILE, data: { note: HOSTILE } });
      // Another writer of the shared store can put anything in the record, its name included.
      const key = `qk:sched:${q}:def:nightly`;
      const record = (await store.get(key)) as Record<string, unknown> | undefined;
      expect(record).toBeDefined();
      await store.set(key, { ...record, name: `nightly${TITLE}` });
      const env = { QUEUE_STORE_URL: 'redis://127.0.0.1:6379' };
      const table = await runHere(['schedules', q, '--store-prefix', prefix], env);
      expect(table.code, table.stderr).toBe(0);
      expectInert('schedules', table);
      expect(table.stdout).toContain('nightly\\x1b]0;pwned\\x07');
      const listed = await runHere(['schedules', q, '--store-prefix', prefix, '--json'], env);
      expectInert('schedules --json', listed);
      const schedules = (JSON.parse(listed.stdout) as { schedules: { name: string; jobName: string }[] })
        .schedules;
      expect(schedules[0]).toMatchObject({ name: `nightly${TITLE}`, jobName: HOSTILE });
    });
  });

  it('error lines from the broker or the arguments', async () => {
    const result = await runHere(['peek', `q${TITLE}`, '--limit', `x${CLEAR}`], { QUEUE_URL: 'memory://' });
    expect(result.code).toBe(2);
    expectInert('usage error', result);
    expect(result.stderr).toContain('\\x1b[2J');
  });
});
