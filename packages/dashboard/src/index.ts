/**
 * queuekit dashboard: queue counts, rates, dead letters, jobs and schedules on every broker, served by
 * one handler that mounts on node:http, Express, Fastify, Hono or any Fetch server.
 *
 * @packageDocumentation
 */
export { createDashboard, type Dashboard } from './dashboard.js';
export type { AnyQueue, DashboardAction, DashboardOptions, QueueUrlSource } from './options.js';
export {
  DashboardHttpError,
  type DashboardErrorCode,
  type DashboardRequest,
  type DashboardResponse,
  MAX_BODY_BYTES,
} from './http.js';
export { CSRF_HEADER } from './security.js';
export { MAX_PREVIEW_CHARS } from './serialize.js';
export { type MountOptions, nodeHandler } from './adapters/node.js';
export { type ExpressRequestLike, expressMiddleware } from './adapters/express.js';
export {
  type FastifyInstanceLike,
  type FastifyReplyLike,
  type FastifyRequestLike,
  fastifyPlugin,
} from './adapters/fastify.js';
export { fetchHandler, type HonoContextLike, honoHandler } from './adapters/fetch.js';
