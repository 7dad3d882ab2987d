import type { Dashboard } from '../dashboard.js';
import { DashboardHttpError, errorResponse, MAX_BODY_BYTES, parseJsonBody } from '../http.js';
import { type MountOptions, normalizePrefix, stripPrefix } from './node.js';

/** Read a Fetch body (never keeping more than MAX_BODY_BYTES, whatever its content-length says), then parse it. */
async function readFetchBody(request: Request): Promise<unknown> {
  const tooLarge = () => new DashboardHttpError(413, 'ERR_BODY_TOO_LARGE', 'body too large');
  if (Number(request.headers.get('content-length')) > MAX_BODY_BYTES) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body?.getReader();
  for (;;) {
    const next = await reader?.read();
    if (!next || next.done) break;
    size += next.value.length;
    if (size > MAX_BODY_BYTES) {
      await reader?.cancel();
      throw tooLarge();
    }
    chunks.push(next.value);
  }
  return parseJsonBody(Buffer.concat(chunks));
}

/**
 * A Fetch API handler `(Request) => Promise<Response>`, for Hono, Bun, Deno and any server that speaks
 * Fetch.
 */
export function fetchHandler(
  dashboard: Dashboard,
  options: MountOptions = {},
): (request: Request) => Promise<Response> {
  const prefix = normalizePrefix(options.prefix);
  return async (request) => {
    const url = new URL(request.url);
    const path = `${url.pathname}${url.search}`;
    const local = stripPrefix(path, prefix);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
    });
    const response =
      local === undefined
        ? errorResponse(new DashboardHttpError(404, 'ERR_NOT_FOUND', 'no such page'))
        : await dashboard.handle({
            method: request.method,
            url: local,
            originalUrl: path,
            headers,
            body: () => readFetchBody(request),
            raw: request,
          });
    const noBody = request.method === 'HEAD' || response.status === 304 || response.status === 308;
    return new Response(noBody ? null : response.body, {
      status: response.status,
      headers: response.headers,
    });
  };
}

/** What a Hono handler receives (a Hono `Context` is one). */
export interface HonoContextLike {
  readonly req: { readonly raw: Request };
}

/**
 * A Hono handler: `app.all('/queues/*', honoHandler(dashboard, { prefix: '/queues' }))` (add
 * `app.all('/queues', ...)` too for the redirect to `/queues/`).
 */
export function honoHandler(
  dashboard: Dashboard,
  options: MountOptions = {},
): (c: HonoContextLike) => Promise<Response> {
  const handle = fetchHandler(dashboard, options);
  return (c) => handle(c.req.raw);
}
