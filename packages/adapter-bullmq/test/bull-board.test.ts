import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { createQueue, type Queue as QueuekitQueue } from '@queuekit/core';
import { type Job, Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import type { BullmqDriverOptions } from '../src/index.js';
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
  driverOptions: BullmqDriverOptions = {},
): { name: string; q: QueuekitQueue<T>; bull: Queue; server: InProcessServer } {
  const name = uniqueQueue(label);
  const q = createQueue<T>({
    name,
    driver: testDriver(prefix, driverOptions),
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

  it('Change priority is what queuekit reports; Clean failed purges dead letters', async () => {
    const { name, q, bull, server } = setUp<{ n: number }>('edit', 1);
    await q.send('work', { n: 1 }, { priority: 1 });
    const [job] = await eventually('the prioritized job', async () => {
      const jobs = await bull.getJobs(['prioritized']);
      return jobs.length === 1 ? jobs : undefined;
    });
    expect(job?.priority).toBe(9);
    const changed = await server.call('patch', `/api/queues/${name}/${job?.id}/priority`, { priority: 2 });
    expect(changed.status).toBe(200);
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

  it('Duplicate adds a new job that runs: its own id, enqueued when duplicated, attempt 1; the original is kept', async () => {
    const { name, q, bull, server } = setUp<{ n: number }>('dup', 2);
    const runs: { id: string; n: number; attempt: number; enqueuedAt: number }[] = [];
    q.process(async (job) => {
      runs.push({ id: job.id, n: job.data.n, attempt: job.attempt, enqueuedAt: job.enqueuedAt.getTime() });
      return job.data.n * 10;
    });
    const first = await q.send('work', { n: 1 });
    const keyed = await q.send('work', { n: 2 }, { jobId: 'report-7' });
    const originals = await jobsIn(bull, 'completed', 2);
    const duplicatedAt = Date.now();
    for (const original of originals) {
      // What the board's Duplicate dialog posts: the job's name, data and options as the job route shows them.
      const shown = await server.call(
        'get',
        `/api/queues/${name}/${encodeURIComponent(String(original.id))}`,
      );
      const { job } = shown.body as { job: { name: string; data: unknown; opts: Record<string, unknown> } };
      const added = await server.call('post', `/api/queues/${name}/add`, {
        name: job.name,
        data: job.data,
        options: job.opts,
      });
      expect(added.status).toBe(200);
    }
    const completed = await jobsIn(bull, 'completed', 4);
    const copies = runs.slice(2).sort((a, b) => a.n - b.n);
    expect(copies.map((run) => run.n)).toEqual([1, 2]);
    const originalIds = new Set(originals.map((job) => String(job.id)));
    for (const copy of copies) {
      expect([first, keyed]).not.toContain(copy.id);
      expect(completed.map((job) => String(job.id))).toContain(copy.id);
      expect(originalIds.has(copy.id)).toBe(false);
      expect(copy.attempt).toBe(1);
      expect(copy.enqueuedAt).toBeGreaterThanOrEqual(duplicatedAt);
      expect(await q.getJob(copy.id)).toMatchObject({ state: 'completed', result: copy.n * 10 });
    }
    expect(await q.getJob(first)).toMatchObject({ state: 'completed', result: 10 });
    expect(await q.getJob(keyed)).toMatchObject({ state: 'completed', result: 20 });
  });

  it('Workers and Metrics tabs: the worker named in the options, completed and failed jobs counted when metrics are on', async () => {
    const { name, q, bull, server } = setUp<{ fail: boolean }>('metrics', 1, {
      workerName: 'billing-1',
      metrics: true,
    });
    q.process(async (job) => {
      if (job.data.fail) throw new Error('refused');
    });
    await q.sendBatch([false, false, true].map((fail) => ({ name: 'work', data: { fail } })));
    await jobsIn(bull, 'completed', 2);
    await jobsIn(bull, 'failed', 1);
    const workers = await server.call('get', `/api/queues/${name}/workers`);
    expect(workers.status).toBe(200);
    expect((workers.body as { workers: { name: string | null }[] }).workers).toEqual([
      expect.objectContaining({ name: 'billing-1' }),
    ]);
    type Metrics = { meta: { count: number } } | null;
    const metrics = await server.call('get', `/api/queues/${name}/metrics`);
    expect(metrics.status).toBe(200);
    const { completed, failed } = metrics.body as { completed: Metrics; failed: Metrics };
    expect(completed?.meta.count).toBe(2);
    expect(failed?.meta.count).toBe(1);
  });

  it('Metrics stay off by default: nothing counted', async () => {
    const { name, q, bull, server } = setUp<{ n: number }>('nometrics', 1);
    q.process(async () => undefined);
    await q.send('work', { n: 1 });
    await jobsIn(bull, 'completed', 1);
    const metrics = await server.call('get', `/api/queues/${name}/metrics`);
    const { completed } = metrics.body as { completed: { meta: { count: number } } | null };
    expect(completed?.meta.count ?? 0).toBe(0);
  });

  it('Add job runs a plain job; Remove deletes a job for good; Edit data changes what the handler gets', async () => {
    const { name, q, bull, server } = setUp<{ n: number }>('addremove', 1);
    const runs: { id: string; n: number; maxAttempts: number }[] = [];
    q.process(async (job) => {
      runs.push({ id: job.id, n: job.data.n, maxAttempts: job.maxAttempts });
    });
    const removed = await q.send('work', { n: 1 }, { delay: 60 * 60 * 1000 });
    const edited = await q.send('work', { n: 2 }, { delay: 60 * 60 * 1000 });
    await jobsIn(bull, 'delayed', 2);
    expect((await server.call('put', `/api/queues/${name}/${removed}/clean`)).status).toBe(204);
    const update = await server.call('patch', `/api/queues/${name}/${edited}/update-data`, {
      jobData: { n: 20 },
    });
    expect(update.status).toBe(200);
    expect((await server.call('put', `/api/queues/${name}/${edited}/promote`)).status).toBe(204);
    const added = await server.call('post', `/api/queues/${name}/add`, {
      name: 'plain',
      data: { n: 3 },
      options: { attempts: 4 },
    });
    expect(added.status).toBe(200);
    const addedId = String((added.body as { job: { id: string } }).job.id);
    await jobsIn(bull, 'completed', 2);
    expect(runs.sort((a, b) => a.n - b.n)).toEqual([
      { id: addedId, n: 3, maxAttempts: 4 },
      { id: edited, n: 20, maxAttempts: 1 },
    ]);
    expect(await q.getJob(removed)).toBeUndefined();
    expect(await bull.getJobCounts('delayed', 'wait', 'prioritized')).toEqual({
      delayed: 0,
      wait: 0,
      prioritized: 0,
    });
  });

  it("Logs tab: the lines a handler logs with ctx.log() show in the job's logs (Delivery.log, BullMQ job.log)", async () => {
    const { name, q, bull, server } = setUp<{ images: number }>('logs', 1);
    q.process(async (job, ctx) => {
      await ctx.log(`resizing ${job.data.images} images`);
      await ctx.log('done');
    });
    const id = await q.send('work', { images: 3 });
    await jobsIn(bull, 'completed', 1);
    const logs = await server.call('get', `/api/queues/${name}/${id}/logs`);
    expect(logs.status).toBe(200);
    expect(logs.body).toEqual(['resizing 3 images', 'done']);
  });
});
