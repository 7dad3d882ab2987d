import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dashboard } from '../dashboard.js';
import { parseJsonBody } from '../http.js';
import { fromNode, readNodeBody, writeNode } from './node.js';

/** The parts of an Express request the middleware reads (an Express `Request` is one). */
export interface ExpressRequestLike extends IncomingMessage {
  /** Set by a body parser (`express.json()`) that already read the stream. */
  body?: unknown;
  originalUrl?: string;
}

/** A body a parser already took from the stream, or undefined when the stream is still to read. */
function parsedBody(req: ExpressRequestLike): (() => Promise<unknown>) | undefined {
  if (!req.readableEnded && req.readable) return undefined;
  const body = req.body;
  if (typeof body === 'string') return async () => parseJsonBody(Buffer.from(body));
  if (body instanceof Uint8Array) return async () => parseJsonBody(body);
  return async () => body ?? {};
}

/** Paths the dashboard answers (below its mount point): the page, its assets and its API. */
const OWN_PATH = /^\/(?:$|\?|assets\/|api\/)/;

/**
 * Express middleware (4 and 5): `app.use('/queues', expressMiddleware(dashboard))` (Express strips the
 * mount path). Other paths go on to the next handler, so it can also be mounted at the root.
 */
export function expressMiddleware(
  dashboard: Dashboard,
): (req: ExpressRequestLike, res: ServerResponse, next: (error?: unknown) => void) => void {
  return (req, res, next) => {
    if (!OWN_PATH.test(req.url ?? '/')) {
      next();
      return;
    }
    const body = parsedBody(req) ?? (() => readNodeBody(req));
    const request = {
      ...fromNode(req, req.url ?? '/', body),
      originalUrl: req.originalUrl ?? req.url ?? '/',
    };
    dashboard.handle(request).then((response) => writeNode(res, response, req.method === 'HEAD'), next);
  };
}
