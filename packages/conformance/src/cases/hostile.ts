import { type Driver, utf8 } from '@queuekit/core';
import { expect, it } from 'vitest';
import { type Harness, until } from '../harness.js';
import { quietFor } from './locks.js';

/** Core headers forged by another producer: every job must end (handled or dead-lettered), none may loop. */
export function hostileCases(h: Harness): void {
  /** Send raw messages with `headers` each (plus `x-case`), as a foreign producer would. */
  async function sendRaw(driver: Driver, name: string, variants: readonly Record<string, string>[]) {
    const ids = variants.map((_, i) => `forged-${i}`);
    for (const [i, headers] of variants.entries()) {
      await driver.send(name, [
        { id: ids[i] as string, name: 'forged', body: utf8(JSON.stringify({ i })), headers: { ...headers } },
      ]);
    }
    return ids;
  }

  /** Every forged job fails in its handler; each must end in the dead letters once, after at most 3 runs. */
  async function noLoop(variants: readonly Record<string, string>[]) {
    const name = h.queueName();
    const driver = await h.driver();
    const ids = await sendRaw(driver, name, variants);
    const backoff = { type: 'fixed' as const, delay: 50 };
    const queue = await h.queue<{ i: number }>(name, { defaults: { backoff } }, { failures: true });
    const runs = new Map<string, number>();
    const dead = new Map<string, number>();
    queue.on('dead-lettered', (info) => dead.set(info.id, (dead.get(info.id) ?? 0) + 1));
    queue.process(
      async (job) => {
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        throw new Error('always fails');
      },
      { concurrency: 4 },
    );
    await until(
      'every forged job dead-lettered',
      h.timeout(30_000),
      () => ids.every((id) => dead.has(id)),
      50,
    );
    await queue.send('sentinel-fails-too', { i: -1 }, { maxAttempts: 1 });
    await until('the worker to go on', h.timeout(15_000), () => dead.size === ids.length + 1, 50);
    await quietFor(h.lockMs + h.timeout(500));
    const loops = ids.filter((id) => (runs.get(id) ?? 0) > 3).map((id) => `${id} ran ${runs.get(id)} times`);
    expect(loops).toEqual([]);
    expect(ids.filter((id) => dead.get(id) !== 1)).toEqual([]);
    const listed = await queue.deadLetters.list({ limit: 100 });
    expect(listed.filter((r) => ids.includes(r.id)).length).toBe(ids.length);
    return { runs, variants };
  }

  it('a forged `qk-attempt` (empty, negative, huge, not a number) neither loops nor crashes the worker', async () => {
    await noLoop([
      { 'qk-attempt': '' },
      { 'qk-attempt': '-5' },
      { 'qk-attempt': '-100000', 'qk-backoff': '{"type":"fixed","delay":0}' },
      { 'qk-attempt': '1e300' },
      { 'qk-attempt': 'abc' },
      { 'qk-attempt': '2.5' },
    ]);
  });

  it('a forged `qk-max-attempts` (0, negative) or `qk-not-before` (1e15, garbage) neither loops nor parks forever', async () => {
    await noLoop([
      { 'qk-max-attempts': '0' },
      { 'qk-max-attempts': '-3' },
      { 'qk-not-before': '1e15' },
      { 'qk-not-before': 'soon' },
    ]);
  });

  it('a `__proto__` header replaces no prototype and the job is handled once', async () => {
    const name = h.queueName();
    const driver = await h.driver();
    const headers = JSON.parse('{"__proto__":"evil","constructor":"evil","x-ok":"1"}') as Record<
      string,
      string
    >;
    await driver.send(name, [{ id: 'proto-1', name: 'forged', body: utf8('{"i":1}'), headers }]);
    const queue = await h.queue<{ i: number }>(name);
    const seen: { id: string; ok?: string; proto: unknown; plain: boolean }[] = [];
    queue.process(async (job) => {
      const proto = Object.getPrototypeOf(job.headers);
      seen.push({
        id: job.id,
        ok: job.headers['x-ok'],
        proto,
        plain: proto === null || proto === Object.prototype,
      });
    });
    await until('the job', h.timeout(15_000), () => seen.length >= 1);
    await queue.send('sentinel', { i: 2 });
    await until('the sentinel', h.timeout(15_000), () => seen.length >= 2);
    expect(seen.filter((s) => s.id === 'proto-1').map(({ ok, plain }) => ({ ok, plain }))).toEqual([
      { ok: '1', plain: true },
    ]);
    expect(({} as Record<string, unknown>).evil).toBeUndefined();
  });
}
