import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const server = fileURLToPath(new URL('../server.mjs', import.meta.url));
let child: ChildProcess;
let base = '';

beforeAll(async () => {
  child = spawn(process.execPath, [server], { env: { ...process.env, PORT: '0', QUEUE_URL: 'memory://' } });
  let out = '';
  child.stdout?.setEncoding('utf8');
  while (!/http:\/\/127\.0\.0\.1:\d+/.test(out)) {
    const [chunk] = (await once(child.stdout!, 'data')) as [string];
    out += chunk;
  }
  base = /http:\/\/127\.0\.0\.1:\d+/.exec(out)![0];
});

afterAll(async () => {
  child.kill('SIGTERM');
  await once(child, 'exit');
});

describe('demo server', () => {
  it('answers POST with 202, a job id and a status URL, and the job completes with a result', async () => {
    const res = await fetch(`${base}/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customer: 'acme', months: 3 }),
    });
    expect(res.status).toBe(202);
    const { id, status } = (await res.json()) as { id: string; status: string };
    expect(res.headers.get('location')).toBe(status);
    const deadline = Date.now() + 15_000;
    let state: { state?: string; progress?: number; result?: { customer: string; rows: number } } = {};
    while (state.state !== 'completed' && Date.now() < deadline) {
      state = (await (await fetch(`${base}${status}`)).json()) as typeof state;
      if (state.state !== 'completed') await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(id).toBeTruthy();
    expect(state).toMatchObject({ state: 'completed', progress: 100, result: { customer: 'acme', rows: 3 } });
  });

  it('retries a failing attempt, dead-letters a job that fails every attempt, and holds a delayed job', async () => {
    const post = async (body: unknown, query = '') => {
      const res = await fetch(`${base}/reports${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(202);
      return ((await res.json()) as { id: string }).id;
    };
    const state = async (id: string) =>
      (await (await fetch(`${base}/reports/${id}`)).json()) as { state?: string; attempts?: number };
    const retried = await post({ customer: 'retry', months: 1, fail: 1 });
    const dead = await post({ customer: 'dead', months: 1, fail: 3 });
    const sentAt = Date.now();
    const delayed = await post({ customer: 'later', months: 1 }, '?delay=1500');
    type Listed = { id: string; reason: string; attempts: number }[];
    const deadline = Date.now() + 20_000;
    let listed: Listed = [];
    let delayedState = await state(delayed);
    while (Date.now() < deadline) {
      listed = (await (await fetch(`${base}/dead-letters`)).json()) as Listed;
      delayedState = await state(delayed);
      if (delayedState.state === 'completed') expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1500);
      if (listed.some((r) => r.id === dead) && delayedState.state === 'completed') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(listed.find((r) => r.id === dead)).toMatchObject({ reason: 'max-attempts', attempts: 3 });
    expect(await state(retried)).toMatchObject({ state: 'completed', attempts: 2 });
    expect(delayedState).toMatchObject({ state: 'completed', attempts: 1 });
    const badDelay = await fetch(`${base}/reports?delay=soon`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customer: 'acme', months: 1 }),
    });
    expect(badDelay.status).toBe(400);
  });

  it('rejects invalid input with 400 naming the field, and unknown ids with 404', async () => {
    const bad = await fetch(`${base}/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ customer: 'acme', months: 99 }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('months');
    const garbage = await fetch(`${base}/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(garbage.status).toBe(400);
    expect((await fetch(`${base}/reports/nope`)).status).toBe(404);
  });
});

describe('demo start-up', () => {
  it('stops with the typed error naming the field, without the password, when QUEUE_URL is malformed', async () => {
    const bad = spawn(process.execPath, [server], {
      env: { ...process.env, PORT: '0', QUEUE_URL: 'redis://:s3cret-pw@127.0.0.1:notaport' },
    });
    let output = '';
    bad.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    bad.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const [code] = (await once(bad, 'exit')) as [number];
    expect(code).toBe(1);
    expect(output).toContain('ConfigError ERR_CONFIG: Invalid option `url`');
    expect(output).not.toContain('s3cret-pw');
    expect(output).not.toContain('queuekit demo on');
  });

  it('stops with AuthenticationError, without the password, when the broker refuses the credentials', async () => {
    // Redis at 127.0.0.1:6379 (pnpm test starts it); no ACL user of this name exists, so AUTH is refused.
    // Making a BullMQ driver does not connect: before, the demo started and logged the refusal on every poll.
    const bad = spawn(process.execPath, [server], {
      env: { ...process.env, PORT: '0', QUEUE_URL: 'redis://qk-demo-nobody:s3cret-pw@127.0.0.1:6379' },
    });
    let output = '';
    bad.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    bad.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const [code] = (await once(bad, 'exit')) as [number];
    expect(code).toBe(1);
    expect(output).toContain('AuthenticationError ERR_AUTH');
    expect(output).not.toContain('s3cret-pw');
    expect(output).not.toContain('queuekit demo on');
  }, 30_000);
});
