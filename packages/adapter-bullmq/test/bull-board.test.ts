import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { createQueue, type Queue as QueuekitQueue } from '@queuekit/core';
import { type Job, Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { deletePrefix, eventually, REDIS_URL, testDriver, uniquePrefix, uniqueQueue } from './helpers.js';

/**
 * Bull Board's own API routes (`@bull-board/api`, the handlers its UI calls), served by an in-process
 * server adapter, against queues that queuekit consumes.
 */

const prefix = uniquePrefix('board');
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  await deletePrefix(prefix);
});

type Response = { status?: number; body: unknown };
type Route = {
  method: string | string[];
  route: string | string[];
  handler: (request: Record<string, unknown>) => Promise<Response> | Response;
};

/** The routes `createBullBoard` registers, callable like the board's UI calls them over HTTP. */
class InProcessServer {
  queues: unknown;
  routes: Route[] = [];
  setQueues(queues: unknown) {
    this.queues = queues;
    return this;
  }
  setViewsPath() {
    return this;
  }
  setStaticPath() {
    return this;
  }
  setEntryRoute() {
    return this;
  }
  setErrorHandler() {
    return this;
  }
  setUIConfig() {
    return this;
  }
  setApiRoutes(routes: Route[]) {
    this.routes = routes;
    return this;
  }

  async call(method: string, path: string, body: Record<string, unknown> = {}): Promise<Response> {
    for (const route of this.routes) {
      const methods = ([] as string[]).concat(route.method);
      if (!methods.includes(method)) continue;
      for (const pattern of ([] as string[]).concat(route.route)) {
        const params = match(pattern, path);
        if (!params) continue;
        return route.handler({ queues: this.queues, uiConfig: {}, query: {}, params, body, headers: {} });
      }
    }
    throw new Error(`no route for ${method} ${path}`);
  }
}

function match(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split('/');
  const got = path.split('/');
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of want.entries()) {
    const value = got[i] as string;
    if (part.startsWith(':')) params[part.slice(1)] = decodeURIComponent(value);
    else if (part !== value) return undefined;
  }
  return params;
}

function setUp<T>(
  label: string,
  maxAttempts = 2,
): { name: string; q: QueuekitQueue<T>; bull: Queue; server: InProcessServer } {
  const name = uniqueQueue(label);
  const q = createQueue<T>({
    name,
    driver: testDriver(prefix),
    ownsDriver: true,
    defaults: { maxAttempts, backoff: { type: 'fixed', delay: 50 } },
  });
  closers.push(() => q.close());
  const bull = new Queue(name, { connection: { url: REDIS_URL }, prefix });
  closers.push(() => bull.close());
  const server = new InProcessServer();
  createBullBoard({ queues: [new BullMQAdapter(bull)], serverAdapter: server as never });
  return { name, q, bull, server };
}

async function jobsIn(bull: Queue, state: 'failed' | 'completed' | 'delayed', count: number): Promise<Job[]> {
  return eventually(`${count} ${state} job(s)`, async () => {
    const jobs = await bull.getJobs([state]);
    return jobs.length === count ? jobs : undefined;
  });
}

describe('Bull Board routes on queues queuekit consumes', () => {
  it('Retry all (failed) runs every dead letter again; the board shows each attempt and its stack', async () => {
    const { name, q, bull, server } = setUp<{ n: number }>('retryall');
    const runs = new Map<number, number>();
    let failing = true;
    q.process(async (job) => {
      runs.set(job.data.n, (runs.get(job.data.n) ?? 0) + 1);
      if (failing) throw new Error(`boom ${job.data.n}`);
      return job.data.n;
    });
    await q.sendBatch([0, 1, 2].map((n) => ({ name: 'work', data: { n } })));
    const dead = await jobsIn(bull, 'failed', 3);
    const shown = await server.call('get', `/api/queues/${name}/${dead[0]?.id}`);
    expect(shown.status).toBe(200);
    const { job } = shown.body as { job: { attempts: number; failedReason: string; stacktrace: string[] } };
    expect(job.attempts).toBe(2);
    expect(job.failedReason).toMatch(/^boom \d$/);
    expect(job.stacktrace).toHaveLength(2);
    expect(job.stacktrace[0]).toContain('bull-board.test.ts');
    failing = false;
    expect((await server.call('put', `/api/queues/${name}/retry/failed`)).status).toBe(200);
    await jobsIn(bull, 'completed', 3);
    expect([...runs.values()]).toEqual([3, 3, 3]);
    expect(await q.deadLetters.list()).toEqual([]);
  });

  it('Retry on a completed job, Promote and Edit delay run the job (one BullMQ job, stable id)', async () => {
    const { name, q, bull, server } = setUp<{ n: number }>('buttons', 1);
    const ran: number[] = [];
    q.process(async (job) => {
      ran.push(job.data.n);
      return job.data.n;
    });
    await q.send('work', { n: 1 });
    const [done] = await jobsIn(bull, 'completed', 1);
    expect((await server.call('put', `/api/queues/${name}/${done?.id}/retry`)).status).toBe(204);
    await eventually('the retried job to run', () => (ran.length === 2 ? true : undefined));

    await q.send('work', { n: 2 }, { delay: 60 * 60 * 1000 });
    await q.send('work', { n: 3 }, { delay: 60 * 60 * 1000 });
    const delayed = await jobsIn(bull, 'delayed', 2);
    const byN = new Map(delayed.map((job) => [(job.data as { n: number }).n, job.id]));
    expect((await server.call('put', `/api/queues/${name}/${byN.get(2)}/promote`)).status).toBe(204);
    const edited = await server.call('patch', `/api/queues/${name}/${byN.get(3)}/delay`, {
      runAt: Date.now() + 200,
    });
    expect(edited.status).toBe(200);
    await eventually('both delayed jobs to run', () => (ran.length === 4 ? true : undefined));
    const completed = await jobsIn(bull, 'completed', 3);
    expect(new Set(completed.map((job) => job.id))).toEqual(new Set([done?.id, byN.get(2), byN.get(3)]));
    expect(ran.sort()).toEqual([1, 1, 2, 3]);
  });

  it('Change priority is what queuekit reports; Duplicate of a queuekit job adds nothing; Clean failed purges dead letters', async () => {
    const { name, q, bull, server } = setUp<{ n: number }>('edit', 1);
    await q.send('work', { n: 1 }, { priority: 1 });
    const [job] = await eventually('the prioritized job', async () => {
      const jobs = await bull.getJobs(['prioritized']);
      return jobs.length === 1 ? jobs : undefined;
    });
    expect(job?.priority).toBe(9);
    const changed = await server.call('patch', `/api/queues/${name}/${job?.id}/priority`, { priority: 2 });
    expect(changed.status).toBe(200);
    // Duplicate: the UI posts the job's name, data and options to the add route.
    const duplicated = await server.call('post', `/api/queues/${name}/add`, {
      name: job?.name,
      data: job?.data,
      options: job?.opts,
    });
    expect(duplicated.status).toBe(200);
    expect(await bull.getJobCounts('prioritized', 'wait')).toEqual({ prioritized: 1, wait: 0 });
    const priorities: number[] = [];
    q.process(async (j) => {
      priorities.push(j.priority);
      throw new Error('fails');
    });
    await jobsIn(bull, 'failed', 1);
    expect(priorities).toEqual([8]);
    expect(await q.deadLetters.list()).toHaveLength(1);
    // The board cleans jobs that finished more than 5 s ago (its grace time): call it until then.
    await eventually('Clean failed to remove the dead letter', async () => {
      expect((await server.call('put', `/api/queues/${name}/clean/failed`)).status).toBe(200);
      return (await q.deadLetters.list()).length === 0 ? true : undefined;
    });
  });
});
