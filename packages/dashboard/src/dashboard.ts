import { ConfigError, QueuekitError, Scrubber } from '@queuekit/core';
import { asset, isAsset, page } from './assets.js';
import {
  DashboardHttpError,
  type DashboardRequest,
  type DashboardResponse,
  errorResponse,
  json,
  SECURITY_HEADERS,
} from './http.js';
import type { AnyQueue, DashboardAction, DashboardOptions } from './options.js';
import { checkAction, csrfToken } from './security.js';
import { openQueues, within } from './sources.js';
import { brokerLabel, deadLetterView, jobView, peekedView, providerOf, scheduleView } from './views.js';

const DEFAULT_TIMEOUT_MS = 5_000;
const MAX_LIST = 500;
/** How long one round of overview counts serves further page refreshes (pages poll every 2 s). */
const OVERVIEW_REUSE_MS = 1_000;

/** A mounted dashboard: one handler for every server (see the adapters). */
export interface Dashboard {
  /** Answer one request (paths relative to where the dashboard is mounted). */
  handle(request: DashboardRequest): Promise<DashboardResponse>;
  /** Names of the queues shown, in order. */
  readonly queueNames: readonly string[];
  /** Close the queues the dashboard opened from URLs (your own `Queue` objects are left open). */
  close(): Promise<void>;
}

function limitParam(query: URLSearchParams, fallback: number): number {
  const raw = query.get('limit');
  if (raw === null) return fallback;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST)
    throw new DashboardHttpError(400, 'ERR_BAD_REQUEST', `limit: expected an integer 1-${MAX_LIST}`);
  return limit;
}

/** The routes: `GET` pages and reads, `POST` actions. */
class DashboardHandler implements Dashboard {
  readonly queueNames: readonly string[];
  private readonly byName: ReadonlyMap<string, AnyQueue>;
  private readonly owned: readonly AnyQueue[];
  private readonly scrubber: Scrubber;
  private readonly token: string;
  private readonly allowedOrigins: ReadonlySet<string>;
  private readonly timeoutMs: number;
  private lastOverview: { at: number; result: Promise<object> } | undefined;

  constructor(private readonly options: DashboardOptions) {
    const { queues, owned, urls } = openQueues(options.queues);
    if (options.authorize !== undefined && typeof options.authorize !== 'function')
      throw new ConfigError('authorize', 'expected a function (request, action) => boolean');
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1)
      throw new ConfigError('timeoutMs', 'expected an integer ≥ 1');
    if (
      options.csrfSecret !== undefined &&
      (typeof options.csrfSecret !== 'string' || options.csrfSecret.length < 16)
    )
      throw new ConfigError('csrfSecret', 'expected a string of at least 16 characters');
    this.timeoutMs = timeoutMs;
    this.queueNames = queues.map((queue) => queue.name);
    this.byName = new Map(queues.map((queue) => [queue.name, queue]));
    this.owned = owned;
    this.scrubber = new Scrubber(urls);
    this.token = csrfToken(options.csrfSecret);
    this.allowedOrigins = new Set((options.allowedOrigins ?? []).map((origin) => origin.toLowerCase()));
  }

  async handle(request: DashboardRequest): Promise<DashboardResponse> {
    try {
      return await this.route(request);
    } catch (error) {
      return errorResponse(this.toHttpError(error));
    }
  }

  close(): Promise<void> {
    return Promise.all(this.owned.map((queue) => queue.close({ timeout: 5_000 }))).then(() => undefined);
  }

  /** A safe answer for any failure: known codes as they are, broker errors scrubbed, the rest hidden. */
  private toHttpError(error: unknown): DashboardHttpError {
    if (error instanceof DashboardHttpError) {
      if (error.status >= 500) this.report(error);
      return error;
    }
    const scrubbed = this.scrubber.error(error instanceof Error ? error : new Error(String(error)));
    this.report(scrubbed);
    if (QueuekitError.is(scrubbed))
      return new DashboardHttpError(
        502,
        'ERR_BROKER',
        `${scrubbed.code}: ${this.scrubber.scrub(scrubbed.message)}`,
      );
    return new DashboardHttpError(500, 'ERR_INTERNAL', 'internal error (see the server log)');
  }

  private report(error: Error): void {
    const onError =
      this.options.onError ?? ((e: Error) => console.error(`[queuekit dashboard] ${e.message}`));
    try {
      onError(this.scrubber.error(error));
    } catch {
      // A failing logger must not turn an answer into a crash.
    }
  }

  private async authorize(request: DashboardRequest, action: DashboardAction): Promise<void> {
    const authorize = this.options.authorize;
    if (!authorize) return;
    let allowed: boolean;
    try {
      allowed = (await authorize(request, action)) === true;
    } catch (error) {
      this.report(error instanceof Error ? error : new Error(String(error)));
      allowed = false;
    }
    if (!allowed) throw new DashboardHttpError(403, 'ERR_FORBIDDEN', 'not allowed');
  }

  private queue(name: string): AnyQueue {
    const queue = this.byName.get(name);
    if (!queue) throw new DashboardHttpError(404, 'ERR_UNKNOWN_QUEUE', 'no such queue on this dashboard');
    return queue;
  }

  private call<T>(work: Promise<T>, what: string): Promise<T> {
    return within(work, this.timeoutMs, what);
  }

  private async route(request: DashboardRequest): Promise<DashboardResponse> {
    const url = new URL(request.url || '/', 'http://dashboard.invalid');
    const parts = url.pathname
      .split('/')
      .filter(Boolean)
      .map((part) => {
        try {
          return decodeURIComponent(part);
        } catch {
          throw new DashboardHttpError(400, 'ERR_BAD_REQUEST', 'malformed path');
        }
      });
    const method = request.method.toUpperCase();
    const isRead = method === 'GET' || method === 'HEAD';
    if (!isRead && method !== 'POST')
      throw new DashboardHttpError(405, 'ERR_METHOD_NOT_ALLOWED', 'only GET and POST are served');

    if (parts[0] === 'api' && parts[1] === 'queues' && parts[3] === 'dead-letters' && parts.length === 5) {
      const action = parts[4];
      if (action !== 'redrive' && action !== 'purge')
        throw new DashboardHttpError(404, 'ERR_NOT_FOUND', 'no such page');
      if (method !== 'POST') throw new DashboardHttpError(405, 'ERR_METHOD_NOT_ALLOWED', 'actions are POST');
      return this.action(request, action, parts[2] ?? '');
    }
    if (!isRead) throw new DashboardHttpError(405, 'ERR_METHOD_NOT_ALLOWED', 'only actions are POST');
    await this.authorize(request, 'read');

    if (parts.length === 0) {
      const visible = new URL(request.originalUrl ?? request.url ?? '/', 'http://dashboard.invalid');
      if (!visible.pathname.endsWith('/')) {
        // Relative asset and API links need the trailing slash. One leading `/`: never a `//host` redirect.
        const location = `/${visible.pathname.replace(/^\/+/, '')}/${visible.search}`;
        return { status: 308, headers: { ...SECURITY_HEADERS, location }, body: '' };
      }
      return page({
        title: this.options.title ?? 'queuekit',
        csrfToken: this.options.allowActions === true ? this.token : undefined,
      });
    }
    if (parts[0] === 'assets' && parts.length === 2 && isAsset(parts[1] ?? ''))
      return asset(parts[1] as 'app.js', request.headers['if-none-match']);
    if (parts[0] !== 'api') throw new DashboardHttpError(404, 'ERR_NOT_FOUND', 'no such page');

    const [, section, name, sub] = parts;
    if (section === 'overview' && parts.length === 2) return json(200, await this.overview());
    if (section === 'schedules' && parts.length === 2)
      return json(200, await this.schedules([...this.byName.values()]));
    if (section === 'jobs' && parts.length === 3)
      return json(200, await this.job(name ?? '', url.searchParams.get('queue')));
    if (section === 'queues' && name !== undefined) {
      const queue = this.queue(name);
      if (parts.length === 3) return json(200, await this.queueDetail(queue));
      if (parts.length === 4 && sub === 'waiting')
        return json(200, await this.waiting(queue, limitParam(url.searchParams, 50)));
      if (parts.length === 4 && sub === 'dead-letters') {
        const items = await this.call(
          queue.deadLetters.list({ limit: limitParam(url.searchParams, 100) }),
          'listing dead letters',
        );
        return json(200, { queue: queue.name, items: items.map(deadLetterView) });
      }
      if (parts.length === 4 && sub === 'schedules') return json(200, await this.schedules([queue]));
    }
    throw new DashboardHttpError(404, 'ERR_NOT_FOUND', 'no such page');
  }

  private async queueSummary(queue: AnyQueue) {
    try {
      const metrics = await this.call(queue.metrics(), 'reading counts');
      return {
        name: queue.name,
        provider: providerOf(queue),
        waiting: metrics.waiting,
        delayed: metrics.delayed,
        active: metrics.active,
        deadLettered: metrics.deadLettered,
        completed: metrics.completed,
        failed: metrics.failed,
        retried: metrics.retried,
        sent: metrics.sent,
        processingDuration: metrics.processingDuration,
      };
    } catch (error) {
      return { name: queue.name, provider: providerOf(queue), error: this.toHttpError(error).message };
    }
  }

  /**
   * Every queue's summary. Pages open at the same time share one round of broker calls: a round is
   * reused while it runs and for {@link OVERVIEW_REUSE_MS} after, and dropped by any action.
   */
  private overview(): Promise<object> {
    const now = Date.now();
    if (this.lastOverview && now - this.lastOverview.at < OVERVIEW_REUSE_MS) return this.lastOverview.result;
    const result = (async () => {
      const queues = await Promise.all([...this.byName.values()].map((queue) => this.queueSummary(queue)));
      return { time: new Date().toISOString(), actions: this.options.allowActions === true, queues };
    })();
    const round = { at: Number.POSITIVE_INFINITY, result };
    this.lastOverview = round;
    result.then(
      () => {
        round.at = Date.now();
      },
      () => {
        if (this.lastOverview === round) this.lastOverview = undefined;
      },
    );
    return result;
  }

  private async queueDetail(queue: AnyQueue) {
    const summary = await this.queueSummary(queue);
    return { ...summary, actions: this.options.allowActions === true };
  }

  private async waiting(queue: AnyQueue, limit: number) {
    try {
      const jobs = await this.call(queue.peek(limit), 'peeking at waiting jobs');
      return { queue: queue.name, supported: true, jobs: jobs.map(peekedView) };
    } catch (error) {
      if (!QueuekitError.is(error, 'ERR_UNSUPPORTED_FEATURE')) throw error;
      return {
        queue: queue.name,
        supported: false,
        jobs: [],
        note: `${brokerLabel(providerOf(queue))} cannot show waiting jobs without taking them off the queue, so only their count is shown.`,
      };
    }
  }

  private async schedules(queues: readonly AnyQueue[]) {
    const lists = await Promise.all(
      queues.map(async (queue) =>
        (await this.call(queue.schedules.list(), 'listing schedules')).map((info) =>
          scheduleView(queue.name, info),
        ),
      ),
    );
    return { schedules: lists.flat() };
  }

  private async job(id: string, queueName: string | null) {
    if (id.length === 0 || id.length > 512)
      throw new DashboardHttpError(400, 'ERR_BAD_REQUEST', 'id: 1-512 characters');
    const queues = queueName === null ? [...this.byName.values()] : [this.queue(queueName)];
    for (const queue of queues) {
      const status = await this.call(queue.getJob(id), 'looking up a job');
      if (status) return jobView(status);
    }
    throw new DashboardHttpError(404, 'ERR_UNKNOWN_JOB', 'no record of this job id (unknown, or expired)');
  }

  private async action(
    request: DashboardRequest,
    action: 'redrive' | 'purge',
    name: string,
  ): Promise<DashboardResponse> {
    if (this.options.allowActions !== true)
      throw new DashboardHttpError(403, 'ERR_READ_ONLY', 'this dashboard is read-only (allowActions is off)');
    await this.authorize(request, action);
    checkAction(request, this.token, this.allowedOrigins);
    try {
      return await this.runAction(request, action, name);
    } finally {
      // Counts read before or during the action are stale now.
      this.lastOverview = undefined;
    }
  }

  private async runAction(
    request: DashboardRequest,
    action: 'redrive' | 'purge',
    name: string,
  ): Promise<DashboardResponse> {
    const queue = this.queue(name);
    const body = await request.body();
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw new DashboardHttpError(400, 'ERR_BAD_REQUEST', 'expected a JSON object');
    const fields = body as Record<string, unknown>;
    if (action === 'purge') {
      if (fields.confirm !== queue.name)
        throw new DashboardHttpError(
          400,
          'ERR_CONFIRMATION_REQUIRED',
          'send { "confirm": "<queue name>" } to purge',
        );
      const purged = await this.call(queue.deadLetters.purge(), 'purging dead letters');
      return json(200, { queue: queue.name, purged });
    }
    const ids = fields.ids;
    if (
      ids !== undefined &&
      !(
        Array.isArray(ids) &&
        ids.length > 0 &&
        ids.length <= MAX_LIST &&
        ids.every((id) => typeof id === 'string' && id.length > 0 && id.length <= 512)
      )
    )
      throw new DashboardHttpError(
        400,
        'ERR_BAD_REQUEST',
        `ids: expected 1-${MAX_LIST} job ids, or none for all`,
      );
    if (ids === undefined && fields.all !== true)
      throw new DashboardHttpError(
        400,
        'ERR_CONFIRMATION_REQUIRED',
        'send { "ids": [...] } or { "all": true }',
      );
    const moved = await this.call(
      queue.deadLetters.redrive(ids as string[] | undefined),
      'redriving dead letters',
    );
    return json(200, { queue: queue.name, redriven: moved });
  }
}

/**
 * A dashboard over `options.queues`: mount it with `nodeHandler`, `expressMiddleware`,
 * `fastifyPlugin` or `honoHandler`. It listens on nothing itself.
 *
 * @example
 * const dashboard = createDashboard({ queues: [emails, reports] });
 * http.createServer(nodeHandler(dashboard)).listen(3001, '127.0.0.1');
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  if (typeof options !== 'object' || options === null) throw new ConfigError('options', 'expected an object');
  return new DashboardHandler(options);
}
