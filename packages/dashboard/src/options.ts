import type { Queue, Store } from '@queuekit/core';
import type { DashboardRequest } from './http.js';

/** Any queue, whatever its payload type (the dashboard reads payloads as `unknown`). */
export type AnyQueue = Queue<unknown>;

/** Queues the dashboard opens itself from a URL (and closes on `dashboard.close()`). */
export interface QueueUrlSource {
  /** Provider URL, secrets included: never shown, never sent to the page. */
  readonly url: string;
  /** One queue name, or use `names`. */
  readonly name?: string;
  /** Several queue names on that URL. */
  readonly names?: readonly string[];
  /** The store your workers share (job records and schedules live there). Default: this process's. */
  readonly store?: Store;
}

/** What `authorize` is asked about: reading any page, or one of the two actions. */
export type DashboardAction = 'read' | 'redrive' | 'purge';

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  /** `Queue` objects of your app, or `{ url, name | names }` for the dashboard to open. At least one. */
  readonly queues: readonly (AnyQueue | QueueUrlSource)[];
  /** Allow redrive and purge from the page (with CSRF protection). Default false: read-only. */
  readonly allowActions?: boolean;
  /**
   * Asked before every request: resolve `false` to refuse it (403). `request.raw` is your server's
   * own request object (check a session cookie, a header, the client address...). Default: allow.
   */
  readonly authorize?: (request: DashboardRequest, action: DashboardAction) => boolean | Promise<boolean>;
  /**
   * Secret the CSRF token is derived from. Give the same one to every instance behind one load
   * balancer. Default: random per process.
   */
  readonly csrfSecret?: string;
  /**
   * Origins (`https://ops.example.com`) allowed to send actions besides the request's own Host,
   * e.g. when a proxy rewrites Host.
   */
  readonly allowedOrigins?: readonly string[];
  /** Most ms one broker call may take before that queue shows an error. Default 5,000. */
  readonly timeoutMs?: number;
  /** Page title. Default `queuekit`. */
  readonly title?: string;
  /** Errors the page was answered with a 500 or 502 for (secrets removed). Default: `console.error`. */
  readonly onError?: (error: Error) => void;
}
