import {
  BrokerUnavailableError,
  createMemoryDriver,
  createQueue,
  type Queue,
  registerScheme,
} from '@queuekit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboard, CSRF_HEADER, type Dashboard, type DashboardAction } from '../src/index.js';
import { launchChromium } from './browser.js';
import { type Served, serve, uniqueName } from './helpers.js';

const SENTINEL = 'Sentinel-S3cr3t-7f3a9c';

async function tokenOf(base: string): Promise<string | undefined> {
  const html = await (await fetch(base)).text();
  return /name="queuekit-csrf" content="([^"]+)"/.exec(html)?.[1];
}

describe('read-only by default', () => {
  let queue: Queue<unknown>;
  let dashboard: Dashboard;
  let served: Served;

  beforeAll(async () => {
    queue = createQueue({ name: uniqueName('ro'), url: 'memory://ro' });
    dashboard = createDashboard({ queues: [queue] });
    served = await serve(dashboard);
  });
  afterAll(async () => {
    await served.close();
    await queue.close();
  });

  it('gives no CSRF token and refuses every action with ERR_READ_ONLY', async () => {
    const html = await (await fetch(served.base)).text();
    expect(html).toContain('name="queuekit-actions" content="off"');
    expect(await tokenOf(served.base)).toBeUndefined();
    for (const action of ['redrive', 'purge']) {
      const response = await fetch(`${served.base}api/queues/${queue.name}/dead-letters/${action}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ all: true, confirm: queue.name }),
      });
      expect(response.status).toBe(403);
      expect(await response.json()).toMatchObject({ error: { code: 'ERR_READ_ONLY' } });
    }
  });
});

describe('read-only page', () => {
  it('shows no action button, and says why', async () => {
    const queue = createQueue({ name: uniqueName('ro-page'), url: 'memory://ro-page' });
    const dashboard = createDashboard({ queues: [queue] });
    const served = await serve(dashboard);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${served.base}#/queue/${queue.name}/dead`);
      await page.locator('.read-only').waitFor();
      expect(await page.locator('#mode').textContent()).toBe('read-only');
      expect(
        await page.locator('#purge-all, #redrive-all, #redrive-selected, input[type=checkbox]').count(),
      ).toBe(0);
    } finally {
      await browser.close();
      await served.close();
      await queue.close();
    }
  });
});

describe('actions on: CSRF protection', () => {
  let queue: Queue<unknown>;
  let dashboard: Dashboard;
  let served: Served;
  let token: string;
  let path: string;

  beforeAll(async () => {
    queue = createQueue({ name: uniqueName('csrf'), url: 'memory://csrf' });
    dashboard = createDashboard({ queues: [queue], allowActions: true, csrfSecret: 'a'.repeat(32) });
    served = await serve(dashboard);
    token = (await tokenOf(served.base)) ?? '';
    path = `${served.base}api/queues/${queue.name}/dead-letters/redrive`;
  });
  afterAll(async () => {
    await served.close();
    await queue.close();
  });

  const attempt = (headers: Record<string, string>, body = JSON.stringify({ all: true })) =>
    fetch(path, { method: 'POST', headers, body }).then(async (response) => ({
      status: response.status,
      code: ((await response.json()) as { error?: { code: string } }).error?.code,
    }));

  it('accepts the page token with JSON from the same origin', async () => {
    expect(token.length).toBeGreaterThan(20);
    expect(
      await attempt({ 'content-type': 'application/json', [CSRF_HEADER]: token, origin: served.origin }),
    ).toEqual({ status: 200, code: undefined });
  });

  it('refuses a missing or wrong token, another origin, a cross-site fetch and a form post', async () => {
    const json = { 'content-type': 'application/json' };
    expect(await attempt(json)).toEqual({ status: 403, code: 'ERR_CSRF' });
    expect(await attempt({ ...json, [CSRF_HEADER]: `${token}x` })).toEqual({ status: 403, code: 'ERR_CSRF' });
    expect(await attempt({ ...json, [CSRF_HEADER]: token, origin: 'https://evil.example' })).toEqual({
      status: 403,
      code: 'ERR_CSRF',
    });
    expect(await attempt({ ...json, [CSRF_HEADER]: token, 'sec-fetch-site': 'cross-site' })).toEqual({
      status: 403,
      code: 'ERR_CSRF',
    });
    expect(
      await attempt(
        { 'content-type': 'application/x-www-form-urlencoded', [CSRF_HEADER]: token },
        'all=true',
      ),
    ).toEqual({ status: 415, code: 'ERR_UNSUPPORTED_MEDIA_TYPE' });
  });

  it('refuses malformed and oversized bodies with typed errors', async () => {
    const headers = { 'content-type': 'application/json', [CSRF_HEADER]: token };
    expect(await attempt(headers, '{nope')).toEqual({ status: 400, code: 'ERR_BAD_REQUEST' });
    expect(await attempt(headers, JSON.stringify({ ids: [42] }))).toEqual({
      status: 400,
      code: 'ERR_BAD_REQUEST',
    });
    expect(await attempt(headers, JSON.stringify({ ids: ['x'.repeat(20_000)] }))).toEqual({
      status: 413,
      code: 'ERR_BODY_TOO_LARGE',
    });
  });

  it('derives the same token from the same csrfSecret (instances behind one load balancer)', async () => {
    const other = createDashboard({ queues: [queue], allowActions: true, csrfSecret: 'a'.repeat(32) });
    const second = await serve(other);
    try {
      expect(await tokenOf(second.base)).toBe(token);
    } finally {
      await second.close();
    }
  });
});

describe('authorize(request, action)', () => {
  it('is asked before every read and action, sees the server request, and a false or a throw is a 403', async () => {
    const queue = createQueue({ name: uniqueName('auth'), url: 'memory://auth' });
    const asked: { action: DashboardAction; user: string | undefined; raw: boolean }[] = [];
    const dashboard = createDashboard({
      queues: [queue],
      allowActions: true,
      onError: () => undefined,
      authorize: (request, action) => {
        const user = request.headers['x-user'];
        asked.push({ action, user, raw: typeof (request.raw as { socket?: unknown }).socket === 'object' });
        if (user === 'crash') throw new Error('session store down');
        return user === 'admin' || (user === 'viewer' && action === 'read');
      },
    });
    const served = await serve(dashboard);
    try {
      const token = await (async () => {
        const html = await (await fetch(served.base, { headers: { 'x-user': 'admin' } })).text();
        return /name="queuekit-csrf" content="([^"]+)"/.exec(html)?.[1] ?? '';
      })();
      const read = (user: string) =>
        fetch(`${served.base}api/overview`, { headers: { 'x-user': user } }).then((r) => r.status);
      const purge = (user: string) =>
        fetch(`${served.base}api/queues/${queue.name}/dead-letters/purge`, {
          method: 'POST',
          headers: { 'x-user': user, 'content-type': 'application/json', [CSRF_HEADER]: token },
          body: JSON.stringify({ confirm: queue.name }),
        }).then((r) => r.status);
      expect(await read('viewer')).toBe(200);
      expect(await read('nobody')).toBe(403);
      expect(await read('crash')).toBe(403);
      expect(await purge('viewer')).toBe(403);
      expect(await purge('admin')).toBe(200);
      expect(asked.map((entry) => entry.action)).toEqual(['read', 'read', 'read', 'read', 'purge', 'purge']);
      expect(asked.every((entry) => entry.raw)).toBe(true);
    } finally {
      await served.close();
      await queue.close();
    }
  });
});

describe('no secret in any page or response', () => {
  // RabbitMQ refusing a password, a Redis that is down; and a driver whose errors echo its whole URL (as
  // some SDKs do), typed and untyped.
  const URLS = [
    `amqp://ops:${SENTINEL}@127.0.0.1:5672/?heartbeat=5`,
    `redis://:${SENTINEL}@127.0.0.1:1/0`,
    `leaky://ops:${SENTINEL}@broker.internal/?sas=${SENTINEL}`,
  ];
  registerScheme('leaky', async () => (options) => {
    const driver = createMemoryDriver({ url: 'memory://leaky' });
    const echo = () => new BrokerUnavailableError(`cannot reach ${options.url}`);
    driver.stats = async () => {
      throw echo();
    };
    driver.listDeadLetters = async () => {
      throw new Error(`socket closed talking to ${options.url}`);
    };
    return driver;
  });
  let dashboard: Dashboard;
  let served: Served;
  let logged: string[];

  beforeAll(async () => {
    logged = [];
    dashboard = createDashboard({
      queues: [
        { url: URLS[0] ?? '', name: 'down-amqp' },
        { url: URLS[1] ?? '', name: 'down-redis' },
        { url: URLS[2] ?? '', name: 'leaky' },
      ],
      allowActions: true,
      timeoutMs: 2_000,
      onError: (error) => logged.push(`${error.message}\n${error.stack ?? ''}`),
    });
    served = await serve(dashboard);
  });
  afterAll(async () => {
    await served.close();
    await dashboard.close();
  }, 20_000);

  it('every endpoint, the page, the assets and the error log are free of the sentinel', async () => {
    const token = (await tokenOf(served.base)) ?? '';
    const bodies: string[] = [];
    const paths = [
      '',
      'assets/app.js',
      'api/overview',
      'api/schedules',
      'api/jobs/x',
      ...['down-amqp', 'leaky'].flatMap((name) => [
        `api/queues/${name}`,
        `api/queues/${name}/waiting`,
        `api/queues/${name}/dead-letters`,
        `api/queues/${name}/schedules`,
      ]),
    ];
    for (const path of paths) {
      const response = await fetch(`${served.base}${path}`);
      bodies.push(
        `${path} ${response.status} ${JSON.stringify([...response.headers])} ${await response.text()}`,
      );
    }
    for (const action of ['redrive', 'purge']) {
      const response = await fetch(`${served.base}api/queues/down-amqp/dead-letters/${action}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [CSRF_HEADER]: token },
        body: JSON.stringify({ all: true, confirm: 'down-amqp' }),
      });
      bodies.push(`${action} ${response.status} ${await response.text()}`);
    }
    const overview = bodies.find((body) => body.startsWith('api/overview')) ?? '';
    // The failures are reported (the sentinel is what must be missing, not the error).
    expect(overview).toContain('ERR_AUTH: RabbitMQ at amqp://127.0.0.1:5672 refused the login');
    expect(overview).toContain('ERR_BROKER_UNAVAILABLE: cannot reach leaky://ops:***@broker.internal');
    // Core wraps the driver's untyped error (ERR_DRIVER); its text reaches the page scrubbed.
    expect(bodies.find((body) => body.startsWith('api/queues/leaky/dead-letters'))).toContain(
      'socket closed talking to leaky://ops:***@broker.internal',
    );
    expect(logged.join('\n')).toContain('socket closed talking to leaky://ops:***@');
    expect(bodies.join('\n')).not.toContain(SENTINEL);
    expect(bodies.join('\n')).not.toContain(encodeURIComponent(SENTINEL));
    expect(logged.join('\n')).not.toContain(SENTINEL);
  }, 30_000);

  it('the rendered page (DOM text and attributes) is free of the sentinel', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(served.base);
      await page.locator('tr[data-queue="down-amqp"]').waitFor();
      await page.locator('tr[data-queue="down-redis"] td.error').waitFor({ timeout: 10_000 });
      expect(await page.content()).not.toContain(SENTINEL);
    } finally {
      await browser.close();
    }
  }, 30_000);
});

describe('errors that are not queuekit errors', () => {
  it('reach the page as ERR_INTERNAL without their text, and onError with it', async () => {
    const queue = createQueue({ name: uniqueName('internal'), url: 'memory://internal' });
    queue.metrics = () => Promise.reject(new TypeError('cannot read properties of undefined (reading "x")'));
    const logged: string[] = [];
    const dashboard = createDashboard({ queues: [queue], onError: (error) => logged.push(error.message) });
    try {
      const overview = await dashboard.handle({
        method: 'GET',
        url: '/api/overview',
        headers: {},
        body: async () => ({}),
        raw: undefined,
      });
      expect(overview.status).toBe(200);
      expect(JSON.parse(overview.body).queues[0].error).toBe('internal error (see the server log)');
      expect(logged).toEqual(['cannot read properties of undefined (reading "x")']);
    } finally {
      await queue.close();
    }
  });
});

describe('payloads are shown as text, never as markup', () => {
  it('a job whose payload and error hold HTML runs no script in the page', async () => {
    const queue = createQueue<{ html: string }>({ name: uniqueName('xss'), url: 'memory://xss' });
    const payload = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    queue.process(
      async () => {
        throw new Error(payload);
      },
      { pollInterval: 100 },
    );
    const dead = new Promise<string>((resolve) => queue.on('dead-lettered', (info) => resolve(info.id)));
    await queue.send('x', { html: payload }, { maxAttempts: 1 });
    const id = await dead;
    const dashboard = createDashboard({ queues: [queue], allowActions: true });
    const served = await serve(dashboard);
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${served.base}#/queue/${queue.name}/dead`);
      const row = page.locator(`tr[data-job="${id}"]`);
      await row.waitFor();
      expect(await row.textContent()).toContain('<img src=x onerror=');
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(await page.locator('main img, main script').count()).toBe(0);
    } finally {
      await browser.close();
      await served.close();
      await queue.close();
    }
  });
});
