import { randomUUID } from 'node:crypto';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createQueue, type Queue, UnrecoverableError } from '@queuekit/core';
import type { Dashboard } from '../src/index.js';
import { nodeHandler } from '../src/index.js';

export const uniqueName = (label: string) => `dash-${label}-${randomUUID().slice(0, 8)}`;

export interface Served {
  readonly base: string;
  readonly origin: string;
  close(): Promise<void>;
}

/** Listen on 127.0.0.1 with an ephemeral port. */
export async function listen(listener: RequestListener): Promise<{ server: Server; origin: string }> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}` };
}

export async function serve(dashboard: Dashboard, prefix = '/dash'): Promise<Served> {
  const { server, origin } = await listen(nodeHandler(dashboard, { prefix }));
  return {
    base: `${origin}${prefix}/`,
    origin,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Poll `probe` until it returns a value other than undefined/false, or fail after `ms`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  ms = 10_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${ms} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Ids of the jobs that completed and that were dead-lettered, as the queue's events tell. */
export function track<T>(queue: Queue<T>): { completed: Set<string>; dead: Set<string> } {
  const seen = { completed: new Set<string>(), dead: new Set<string>() };
  queue.on('completed', (job) => seen.completed.add(job.id));
  queue.on('dead-lettered', (info) => seen.dead.add(info.id));
  return seen;
}

export interface Payload {
  readonly n: number;
  readonly fail?: boolean;
}

export interface Fixture {
  /** No consumer: its counts stay as sent. */
  readonly idle: Queue<Payload>;
  /** Consumed: `fail: true` jobs are dead-lettered while `work.fixed` is false. */
  readonly work: Queue<Payload>;
  readonly state: { fixed: boolean };
  readonly seen: { completed: Set<string>; dead: Set<string> };
  /** Send a job that is dead-lettered (while not fixed); resolves with its id once it is. */
  deadLetter(): Promise<string>;
  /** Send a good job; resolves with its id once it completed. */
  complete(n?: number): Promise<string>;
  close(): Promise<void>;
}

/** Two queues on `url` (named uniquely): one idle with 3 waiting and 2 delayed jobs, one with a worker. */
export async function fixture(url: string, label: string): Promise<Fixture> {
  const idle = createQueue<Payload>({ name: uniqueName(`${label}-idle`), url });
  const work = createQueue<Payload>({ name: uniqueName(`${label}-work`), url });
  const state = { fixed: false };
  const seen = track(work);
  work.process(
    async (job, ctx) => {
      if (job.data.fail && !state.fixed) throw new UnrecoverableError(`report ${job.data.n} has no customer`);
      await ctx.progress(50);
      return { total: job.data.n * 10, rows: job.data.n };
    },
    { concurrency: 2, pollInterval: 200 },
  );
  for (let n = 1; n <= 3; n++) await idle.send('report', { n });
  for (let n = 4; n <= 5; n++) await idle.send('report', { n }, { delay: 600_000 });
  return {
    idle,
    work,
    state,
    seen,
    async deadLetter() {
      const id = await work.send('report', { n: 99, fail: true });
      await eventually(() => seen.dead.has(id), 15_000);
      return id;
    },
    async complete(n = 7) {
      const id = await work.send('report', { n });
      await eventually(() => seen.completed.has(id), 15_000);
      return id;
    },
    async close() {
      await work.deadLetters.purge().catch(() => 0);
      await idle.close({ timeout: 2_000 });
      await work.close({ timeout: 2_000 });
    },
  };
}
