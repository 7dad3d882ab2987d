import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dashboard } from '../dashboard.js';
import {
  DashboardHttpError,
  type DashboardRequest,
  type DashboardResponse,
  errorResponse,
  MAX_BODY_BYTES,
  parseJsonBody,
} from '../http.js';

/** Where the dashboard is mounted. */
export interface MountOptions {
  /** Path prefix the dashboard lives under (`/queues`). Default: the whole server. */
  readonly prefix?: string;
}

/** `prefix` without a trailing slash ('' for the root), checked once. */
export function normalizePrefix(prefix: string | undefined): string {
  if (prefix === undefined || prefix === '' || prefix === '/') return '';
  if (!prefix.startsWith('/')) throw new TypeError('prefix: expected a path starting with `/`');
  return prefix.replace(/\/+$/, '');
}

/** `url` below `prefix`, or undefined when it is outside. */
export function stripPrefix(url: string, prefix: string): string | undefined {
  if (prefix === '') return url;
  if (url === prefix || url.startsWith(`${prefix}/`) || url.startsWith(`${prefix}?`)) {
    const rest = url.slice(prefix.length);
    return rest.startsWith('/') ? rest : `/${rest}`;
  }
  return undefined;
}

export function nodeHeaders(headers: IncomingMessage['headers']): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers))
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

/** Read a Node request body (never keeping more than MAX_BODY_BYTES), then parse it as JSON. */
export function readNodeBody(req: IncomingMessage): Promise<unknown> {
  if (Number(req.headers['content-length']) > MAX_BODY_BYTES)
    return Promise.reject(new DashboardHttpError(413, 'ERR_BODY_TOO_LARGE', 'body too large'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.resume();
      reject(new DashboardHttpError(413, 'ERR_BODY_TOO_LARGE', 'body too large'));
    };
    req.on('data', onData);
    req.once('end', () => {
      try {
        resolve(parseJsonBody(Buffer.concat(chunks)));
      } catch (error) {
        reject(error);
      }
    });
    req.once('error', reject);
  });
}

export function writeNode(res: ServerResponse, response: DashboardResponse, head: boolean): void {
  if (res.headersSent) return;
  res.writeHead(response.status, { ...response.headers, 'content-length': Buffer.byteLength(response.body) });
  res.end(head ? undefined : response.body);
}

export function fromNode(req: IncomingMessage, url: string, body: () => Promise<unknown>): DashboardRequest {
  return {
    method: req.method ?? 'GET',
    url,
    originalUrl: req.url ?? url,
    headers: nodeHeaders(req.headers),
    body,
    raw: req,
  };
}

/**
 * A `node:http` request listener. Requests outside `prefix` get a 404 (route them elsewhere
 * yourself, or use `expressMiddleware` which passes them on).
 *
 * @example
 * http.createServer(nodeHandler(dashboard)).listen(3001, '127.0.0.1');
 */
export function nodeHandler(
  dashboard: Dashboard,
  options: MountOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const prefix = normalizePrefix(options.prefix);
  return (req, res) => {
    const url = stripPrefix(req.url ?? '/', prefix);
    const respond = (response: DashboardResponse) => {
      // Stop reading a body we refused; the connection closes after the answer.
      if (!req.complete && response.status >= 400) res.setHeader('connection', 'close');
      writeNode(res, response, req.method === 'HEAD');
    };
    if (url === undefined) {
      respond(errorResponse(new DashboardHttpError(404, 'ERR_NOT_FOUND', 'no such page')));
      return;
    }
    dashboard.handle(fromNode(req, url, () => readNodeBody(req))).then(respond, () => {
      respond(errorResponse(new DashboardHttpError(500, 'ERR_INTERNAL', 'internal error')));
    });
  };
}
