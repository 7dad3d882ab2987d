import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const server = fileURLToPath(new URL('../server.mjs', import.meta.url));
const SECRET = 'pa/SENTI %#NEL';
let child: ChildProcess;
let port = 0;

beforeAll(async () => {
  // The URL is never connected to (memory://), only shown: a hostile password and a reordered connection string.
  const queueUrl = `memory://app:${SECRET}@demo-safety?sig=${encodeURIComponent(SECRET)}`;
  child = spawn(process.execPath, [server], {
    env: { ...process.env, PORT: '0', QUEUE_URL: queueUrl, ALLOWED_HOSTS: 'demo.example.com' },
  });
  let out = '';
  child.stdout?.setEncoding('utf8');
  while (!/http:\/\/127\.0\.0\.1:\d+/.test(out)) {
    const [chunk] = (await once(child.stdout!, 'data')) as [string];
    out += chunk;
  }
  expect(out).not.toContain('SENTI');
  port = Number(/http:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1]);
});

afterAll(async () => {
  child.kill('SIGTERM');
  await once(child, 'exit');
});

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One request with full control of the headers (fetch forbids Host) and of how the body is cut in chunks. */
function request(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  chunks: readonly Buffer[] = [],
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (part: Buffer) => parts.push(part));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }),
      );
    });
    // The server may answer (413) and close while we still write: the answer is what counts.
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

const json = { 'content-type': 'application/json' };
const report = (customer: string) => Buffer.from(JSON.stringify({ customer, months: 1 }));

async function completed(id: string): Promise<{ state?: string; result?: { customer: string } }> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const answer = await request('GET', `/reports/${id}`);
    const state = JSON.parse(answer.body) as { state?: string; result?: { customer: string } };
    if (state.state === 'completed' || Date.now() > deadline) return state;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the demo refuses what a hostile page or client could send', () => {
  it('answers only for its own host names (DNS rebinding)', async () => {
    expect((await request('GET', '/', { host: 'evil.example' })).status).toBe(421);
    expect((await request('GET', '/reports/x', { host: `attacker.test:${port}` })).status).toBe(421);
    expect((await request('POST', '/reports', { ...json, host: 'evil.example' }, [report('a')])).status).toBe(
      421,
    );
    expect((await request('GET', '/', { host: `localhost:${port}` })).status).toBe(200);
    expect((await request('GET', '/', { host: 'demo.example.com' })).status).toBe(200); // ALLOWED_HOSTS
  });

  it('requires application/json (a cross-site form or no-cors fetch sends text/plain)', async () => {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const answer = await request('POST', '/reports', { 'content-type': type }, [report('acme')]);
      expect(answer.status, type).toBe(415);
    }
    expect((await request('POST', '/reports', {}, [report('acme')])).status).toBe(415);
    const ok = await request('POST', '/reports', { 'content-type': 'application/json; charset=utf-8' }, [
      report('a'),
    ]);
    expect(ok.status).toBe(202);
  });

  it('refuses cross-site requests by Origin and Sec-Fetch-Site', async () => {
    const cross = [
      { origin: 'https://evil.example' },
      { origin: `http://evil.example:${port}` },
      { origin: 'null' },
      { 'sec-fetch-site': 'cross-site' },
      { 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of cross) {
      const answer = await request('POST', '/reports', { ...json, ...headers }, [report('acme')]);
      expect(answer.status, JSON.stringify(headers)).toBe(403);
    }
    const same = await request(
      'POST',
      '/reports',
      { ...json, origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' },
      [report('acme')],
    );
    expect(same.status).toBe(202);
  });

  it('counts the body limit in bytes, streamed or declared', async () => {
    // 30,000 euro signs: 30,000 UTF-16 units (under the old 64 Ki count) but 90,000 bytes.
    const big = report('€'.repeat(30_000));
    expect(big.length).toBeGreaterThan(64 * 1024);
    const declared = await request('POST', '/reports', { ...json, 'content-length': String(big.length) }, [
      big,
    ]);
    expect(declared.status).toBe(413);
    const pieces = [big.subarray(0, 40_000), big.subarray(40_000)];
    const streamed = await request('POST', '/reports', json, pieces); // chunked: no content-length
    expect(streamed.status).toBe(413);
  });

  it('decodes UTF-8 once, so a character split across two chunks arrives whole', async () => {
    const customer = 'Zoë Ünal €uro 日本';
    const body = report(customer);
    const euro = body.indexOf(Buffer.from('€'));
    const pieces = [body.subarray(0, euro + 1), body.subarray(euro + 1, euro + 2), body.subarray(euro + 2)];
    const answer = await request('POST', '/reports', json, pieces);
    expect(answer.status).toBe(202);
    const { id } = JSON.parse(answer.body) as { id: string };
    expect(await completed(id)).toMatchObject({ state: 'completed', result: { customer } });
  });

  it('refuses a body that is not UTF-8', async () => {
    const answer = await request('POST', '/reports', json, [
      Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
    ]);
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('UTF-8');
  });

  it('shows the queue URL without its secrets', async () => {
    const answer = await request('GET', '/', { host: `127.0.0.1:${port}` });
    expect(answer.status).toBe(200);
    expect(answer.body).not.toContain('SENTI');
    expect(JSON.parse(answer.body).queue).toBe('memory://app:***@demo-safety?sig=***');
  });
});
