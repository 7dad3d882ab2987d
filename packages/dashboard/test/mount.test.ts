import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createQueue, type Queue, UnrecoverableError } from '@queuekit/core';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createDashboard,
  CSRF_HEADER,
  type Dashboard,
  expressMiddleware,
  fastifyPlugin,
  fetchHandler,
  honoHandler,
  nodeHandler,
} from '../src/index.js';
import { eventually, listen, uniqueName } from './helpers.js';

let queue: Queue<{ n: number }>;
let dashboard: Dashboard;
let deadId: string;

beforeAll(async () => {
  queue = createQueue<{ n: number }>({ name: uniqueName('mount'), url: 'memory://mount' });
  const dead = new Set<string>();
  queue.on('dead-lettered', (info) => dead.add(info.id));
  queue.process(
    async () => {
      throw new UnrecoverableError('broken');
    },
    { pollInterval: 100 },
  );
  deadId = await queue.send('x', { n: 1 });
  await eventually(() => dead.has(deadId));
  dashboard = createDashboard({ queues: [queue], allowActions: true });
});

afterAll(async () => {
  await queue.close();
});

/** Each host app mounts the dashboard under /ops/queues next to a route of its own. */
const HOSTS: { name: string; start(): Promise<{ origin: string; stop(): Promise<void> }> }[] = [
  {
    name: 'node:http',
    async start() {
      const handler = nodeHandler(dashboard, { prefix: '/ops/queues' });
      const { server, origin } = await listen((req, res) => {
        if (req.url === '/app') return res.end('app');
        handler(req, res);
      });
      return { origin, stop: () => close(server) };
    },
  },
  {
    name: 'Express',
    async start() {
      const app = express();
      app.use(express.json()); // the host's body parser runs first: the dashboard reads req.body
      app.get('/app', (_req, res) => {
        res.send('app');
      });
      app.use('/ops/queues', expressMiddleware(dashboard));
      const { server, origin } = await listen(app);
      return { origin, stop: () => close(server) };
    },
  },
  {
    name: 'Fastify',
    async start() {
      const app = Fastify();
      app.get('/app', async () => 'app');
      await app.register(fastifyPlugin(dashboard), { prefix: '/ops/queues' });
      const address = await app.listen({ port: 0, host: '127.0.0.1' });
      return { origin: address, stop: () => app.close() };
    },
  },
  {
    name: 'Hono',
    async start() {
      const app = new Hono();
      app.get('/app', (c) => c.text('app'));
      const handler = honoHandler(dashboard, { prefix: '/ops/queues' });
      app.all('/ops/queues', handler);
      app.all('/ops/queues/*', handler);
      const { server, origin } = await listen(fetchToNode(app.fetch));
      return { origin, stop: () => close(server) };
    },
  },
];

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** A minimal Fetch-to-node bridge for the Hono app (what @hono/node-server does). */
function fetchToNode(fetchApp: (request: Request) => Response | Promise<Response>) {
  return (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const { port } = req.socket.address() as AddressInfo;
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers))
        if (typeof value === 'string') headers.set(name, value);
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
      const response = await fetchApp(
        new Request(`http://127.0.0.1:${port}${req.url}`, {
          method: req.method ?? 'GET',
          headers,
          ...(hasBody ? { body: Buffer.concat(chunks) } : {}),
        }),
      );
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    });
  };
}

describe.each(HOSTS)('mounted in $name under /ops/queues', (host) => {
  let origin: string;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ origin, stop } = await host.start());
  });
  afterAll(async () => {
    await stop();
  });

  it('serves the page, the assets and the API under the prefix, and leaves the host app its routes', async () => {
    expect(await (await fetch(`${origin}/app`)).text()).toBe('app');
    const bare = await fetch(`${origin}/ops/queues`, { redirect: 'manual' });
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('/ops/queues/');
    const page = await fetch(`${origin}/ops/queues/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('<script type="module" src="assets/app.js">');
    expect((await fetch(`${origin}/ops/queues/assets/app.css`)).headers.get('content-type')).toMatch(
      /text\/css/,
    );
    const overview = (await (await fetch(`${origin}/ops/queues/api/overview`)).json()) as {
      queues: { name: string; deadLettered: number }[];
    };
    expect(overview.queues).toEqual([expect.objectContaining({ name: queue.name })]);
    const missing = await fetch(`${origin}/ops/queues/api/nope`);
    expect(missing.status).toBe(404);
  });

  it('runs an action with the page token (the body read through the host framework)', async () => {
    const html = await (await fetch(`${origin}/ops/queues/`)).text();
    const token = /name="queuekit-csrf" content="([^"]+)"/.exec(html)?.[1] ?? '';
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${origin}/ops/queues/api/queues/${queue.name}/dead-letters/purge`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [CSRF_HEADER]: token, ...headers },
        body: JSON.stringify(body),
      });
    // A wrong confirmation is refused, which shows the body got through the framework as sent.
    const refused = await post({ confirm: 'other' });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { code: 'ERR_CONFIRMATION_REQUIRED' } });
    expect((await post({ confirm: queue.name }, { [CSRF_HEADER]: 'forged' })).status).toBe(403);
    const ok = await post({ confirm: queue.name });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { purged: number }).purged).toBeGreaterThanOrEqual(0);
  });
});

describe('Express at the root', () => {
  it('answers its own paths and passes every other one on to the app', async () => {
    const app = express();
    app.use(expressMiddleware(dashboard));
    app.get('/health', (_req, res) => {
      res.send('ok');
    });
    const { server, origin } = await listen(app);
    try {
      expect((await fetch(`${origin}/`)).status).toBe(200);
      expect((await fetch(`${origin}/api/overview`)).status).toBe(200);
      expect(await (await fetch(`${origin}/health`)).text()).toBe('ok');
      expect((await fetch(`${origin}/api/nope`)).status).toBe(404);
    } finally {
      await close(server);
    }
  });
});

describe('fetchHandler', () => {
  it('answers Fetch requests directly (Bun, Deno, workers)', async () => {
    const handle = fetchHandler(dashboard);
    const html = await (await handle(new Request('http://localhost/'))).text();
    const token = /name="queuekit-csrf" content="([^"]+)"/.exec(html)?.[1] ?? '';
    const response = await handle(new Request('http://localhost/api/overview'));
    expect(response.status).toBe(200);
    expect((await handle(new Request('http://localhost/api/queues/nope'))).status).toBe(404);
    const css = await handle(new Request('http://localhost/assets/app.css'));
    const etag = css.headers.get('etag') ?? '';
    const fresh = await handle(
      new Request('http://localhost/assets/app.css', { headers: { 'if-none-match': etag } }),
    );
    expect(fresh.status).toBe(304);
    // A streamed body without content-length is cut at the limit, not read whole.
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(8 * 1024).fill(32));
      },
    });
    const big = await handle(
      new Request(`http://localhost/api/queues/${queue.name}/dead-letters/purge`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [CSRF_HEADER]: token },
        body: endless,
        duplex: 'half',
      } as RequestInit),
    );
    expect(big.status).toBe(413);
    expect(pulled).toBeLessThan(10);
  });
});
