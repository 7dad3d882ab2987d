import { createQueue } from '@queuekit/core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDashboard, CSRF_HEADER, type Dashboard } from '../src/index.js';
import { eventually, type Fixture, fixture, type Served, serve } from './helpers.js';

const BROKERS = [
  ['memory', () => `memory://${Math.random().toString(36).slice(2)}`],
  ['redis', () => inject('redisUrl')],
] as const;

/** The CSRF token the page carries (what the page's script sends with actions). */
async function tokenOf(base: string): Promise<string> {
  const html = await (await fetch(base)).text();
  const token = /name="queuekit-csrf" content="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error('no CSRF token in the page');
  return token;
}

describe.each(BROKERS)('API on %s', (label, urlOf) => {
  let fx: Fixture;
  let dashboard: Dashboard;
  let served: Served;
  let token: string;
  let deadId: string;
  let doneId: string;

  const get = async (path: string) => {
    const response = await fetch(`${served.base}api/${path}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${served.base}api/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [CSRF_HEADER]: token, origin: served.origin },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    fx = await fixture(urlOf(), label);
    await fx.work.schedule('nightly', { cron: '0 3 * * *', data: { n: 1 } });
    dashboard = createDashboard({ queues: [fx.idle, fx.work], allowActions: true });
    served = await serve(dashboard);
    token = await tokenOf(served.base);
    deadId = await fx.deadLetter();
    doneId = await fx.complete(4);
  });

  afterAll(async () => {
    await fx?.work.schedules.remove('nightly').catch(() => false);
    await served?.close();
    await dashboard?.close();
    await fx?.close();
  });

  it('GET / serves the page, assets and redirects the mount point to its trailing slash', async () => {
    const page = await fetch(served.base);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('assets/app.js');
    for (const name of ['app.js', 'app.css']) {
      const response = await fetch(`${served.base}assets/${name}`);
      expect(response.status).toBe(200);
      expect((await response.text()).length).toBeGreaterThan(100);
      // Revalidation: an unchanged file is a 304 without a body.
      const etag = response.headers.get('etag') ?? '';
      expect(etag).toMatch(/^".+"$/);
      const again = await fetch(`${served.base}assets/${name}`, { headers: { 'if-none-match': etag } });
      expect(again.status).toBe(304);
      expect(await again.text()).toBe('');
    }
    const bare = await fetch(served.base.replace(/\/$/, ''), { redirect: 'manual' });
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('/dash/');
    expect((await fetch(`${served.base}assets/../../etc/passwd`)).status).toBe(404);
  });

  it('GET api/overview: every queue with the counts stats() gives and the counters metrics() gives', async () => {
    const { status, body } = await get('overview');
    expect(status).toBe(200);
    const queues = body.queues as Record<string, unknown>[];
    expect(queues.map((queue) => queue.name)).toEqual([fx.idle.name, fx.work.name]);
    const stats = await fx.idle.stats();
    expect(queues[0]).toMatchObject({ waiting: stats.waiting, delayed: stats.delayed });
    expect(stats.waiting).toBe(3);
    expect(stats.delayed).toBe(2);
    const metrics = await fx.work.metrics();
    expect(queues[1]).toMatchObject({
      deadLettered: 1,
      completed: metrics.completed,
      failed: metrics.failed,
      provider: (await fx.work.driver()).provider,
    });
    expect((queues[1]?.processingDuration as { count: number } | undefined)?.count).toBe(
      metrics.processingDuration.count,
    );
    expect(body.actions).toBe(true);
  });

  it('GET api/queues/:name and its waiting jobs (peek)', async () => {
    const detail = await get(`queues/${fx.idle.name}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ name: fx.idle.name, waiting: 3, delayed: 2 });
    const waiting = await get(`queues/${fx.idle.name}/waiting?limit=10`);
    expect(waiting.status).toBe(200);
    expect(waiting.body.supported).toBe(true);
    const jobs = waiting.body.jobs as { data: string; name: string }[];
    expect(jobs.length).toBeGreaterThanOrEqual(3);
    expect(jobs.map((job) => JSON.parse(job.data).n)).toEqual(expect.arrayContaining([1, 2, 3]));
    expect((await get(`queues/${fx.idle.name}/waiting?limit=0`)).status).toBe(400);
    const unknown = await get('queues/nope/waiting');
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'ERR_UNKNOWN_QUEUE' } } });
  });

  it('GET api/queues/:name/dead-letters: reason, error and attempts', async () => {
    const { status, body } = await get(`queues/${fx.work.name}/dead-letters`);
    expect(status).toBe(200);
    expect(body.items).toEqual([
      expect.objectContaining({
        id: deadId,
        reason: 'unrecoverable',
        error: 'report 99 has no customer',
        attempts: 1,
        data: JSON.stringify({ n: 99, fail: true }),
      }),
    ]);
  });

  it('GET api/jobs/:id: state, progress, result and timestamps, in any queue or a named one', async () => {
    const { status, body } = await get(`jobs/${doneId}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      id: doneId,
      queue: fx.work.name,
      state: 'completed',
      progress: 50,
      result: JSON.stringify({ total: 40, rows: 4 }),
    });
    expect(Date.parse(body.finishedAt as string)).toBeGreaterThan(0);
    expect((await get(`jobs/${doneId}?queue=${fx.work.name}`)).status).toBe(200);
    expect(await get('jobs/no-such-job')).toMatchObject({
      status: 404,
      body: { error: { code: 'ERR_UNKNOWN_JOB' } },
    });
  });

  it('GET api/schedules and api/queues/:name/schedules: last and next run', async () => {
    for (const path of ['schedules', `queues/${fx.work.name}/schedules`]) {
      const { status, body } = await get(path);
      expect(status).toBe(200);
      const schedule = (body.schedules as Record<string, string>[]).find((s) => s.name === 'nightly');
      expect(schedule).toMatchObject({ queue: fx.work.name, cron: '0 3 * * *' });
      expect(new Date(schedule?.nextRunAt ?? 0).getUTCHours()).toBe(3);
    }
  });

  it('POST redrive brings a dead-lettered job back: one by id, then all', async () => {
    fx.state.fixed = true;
    expect(await post(`queues/${fx.work.name}/dead-letters/redrive`, {})).toMatchObject({
      status: 400,
      body: { error: { code: 'ERR_CONFIRMATION_REQUIRED' } },
    });
    const one = await post(`queues/${fx.work.name}/dead-letters/redrive`, { ids: [deadId] });
    expect(one).toMatchObject({ status: 200, body: { redriven: 1 } });
    await eventually(() => fx.seen.completed.has(deadId), 15_000);
    expect((await fx.work.getJob(deadId))?.state).toBe('completed');

    fx.state.fixed = false;
    const again = await fx.deadLetter();
    fx.state.fixed = true;
    const all = await post(`queues/${fx.work.name}/dead-letters/redrive`, { all: true });
    expect(all).toMatchObject({ status: 200, body: { redriven: 1 } });
    await eventually(() => fx.seen.completed.has(again), 15_000);
  });

  it('POST purge needs the queue name as confirmation, then deletes every dead letter', async () => {
    fx.state.fixed = false;
    await fx.deadLetter();
    const path = `queues/${fx.work.name}/dead-letters/purge`;
    expect(await post(path, {})).toMatchObject({
      status: 400,
      body: { error: { code: 'ERR_CONFIRMATION_REQUIRED' } },
    });
    expect(await post(path, { confirm: fx.idle.name })).toMatchObject({ status: 400 });
    expect((await fx.work.deadLetters.list()).length).toBe(1);
    expect(await post(path, { confirm: fx.work.name })).toMatchObject({ status: 200, body: { purged: 1 } });
    await eventually(async () => (await fx.work.deadLetters.list()).length === 0);
  });

  it('unknown paths and methods get typed errors', async () => {
    expect(await get('nope')).toMatchObject({ status: 404, body: { error: { code: 'ERR_NOT_FOUND' } } });
    const del = await fetch(`${served.base}api/overview`, { method: 'DELETE' });
    expect(del.status).toBe(405);
    const getAction = await fetch(`${served.base}api/queues/${fx.work.name}/dead-letters/purge`);
    expect(getAction.status).toBe(405);
  });
});

describe('queues given as URLs', () => {
  it('opens { url, names } itself, shows them, and closes them on close()', async () => {
    const url = inject('redisUrl');
    const dashboard = createDashboard({ queues: [{ url, names: ['dash-url-a', 'dash-url-b'] }] });
    const served = await serve(dashboard);
    try {
      const body = (await (await fetch(`${served.base}api/overview`)).json()) as {
        queues: { name: string; provider: string; waiting?: number }[];
      };
      expect(body.queues.map((queue) => queue.name)).toEqual(['dash-url-a', 'dash-url-b']);
      expect(
        body.queues.every((queue) => queue.provider === 'bullmq' && typeof queue.waiting === 'number'),
      ).toBe(true);
    } finally {
      await served.close();
      await dashboard.close();
    }
  });

  it('refuses bad options with ConfigError naming the field', () => {
    expect(() => createDashboard({ queues: [] })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', field: 'queues' }),
    );
    expect(() => createDashboard({ queues: [{ url: 'memory://' }] })).toThrow(
      expect.objectContaining({ field: 'queues[0].name' }),
    );
    expect(() => createDashboard({ queues: [{ url: 'memory://', names: ['a', 'a'] }] })).toThrow(
      /listed twice/,
    );
    expect(() => createDashboard({ queues: [{ url: 'memory://', name: 'a' }], timeoutMs: 0 })).toThrow(
      expect.objectContaining({ field: 'timeoutMs' }),
    );
  });
});

describe('overview rounds', () => {
  it('pages polling together share one round of broker calls; an action starts a fresh one', async () => {
    const queue = createQueue({ name: 'dash-rounds', url: 'memory://rounds' });
    let calls = 0;
    const metrics = queue.metrics.bind(queue);
    queue.metrics = () => {
      calls++;
      return metrics();
    };
    const dashboard = createDashboard({ queues: [queue], allowActions: true });
    const served = await serve(dashboard);
    try {
      await Promise.all(Array.from({ length: 5 }, () => fetch(`${served.base}api/overview`)));
      expect(calls).toBe(1);
      const token = await tokenOf(served.base);
      const redrive = await fetch(`${served.base}api/queues/dash-rounds/dead-letters/redrive`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [CSRF_HEADER]: token },
        body: JSON.stringify({ all: true }),
      });
      expect(redrive.status).toBe(200);
      await fetch(`${served.base}api/overview`);
      expect(calls).toBe(2);
    } finally {
      await served.close();
      await queue.close();
    }
  });
});
