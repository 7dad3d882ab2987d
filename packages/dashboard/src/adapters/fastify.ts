import type { IncomingMessage } from 'node:http';
import type { Dashboard } from '../dashboard.js';
import { parseJsonBody } from '../http.js';
import { nodeHeaders, stripPrefix } from './node.js';

/** The parts of a Fastify request the plugin reads. */
export interface FastifyRequestLike {
  readonly url: string;
  readonly method: string;
  readonly body?: unknown;
  readonly raw: IncomingMessage;
}

/** The parts of a Fastify reply the plugin writes. */
export interface FastifyReplyLike {
  code(statusCode: number): unknown;
  header(key: string, value: string): unknown;
  send(payload?: string): unknown;
}

/** The parts of a Fastify instance the plugin registers routes on. */
export interface FastifyInstanceLike {
  readonly prefix: string;
  all(
    path: string,
    handler: (request: FastifyRequestLike, reply: FastifyReplyLike) => Promise<unknown>,
  ): unknown;
}

/**
 * A Fastify plugin (Fastify 4 and 5): `app.register(fastifyPlugin(dashboard), { prefix: '/queues' })`.
 * Fastify parses the JSON body of actions; the dashboard checks it as usual.
 */
export function fastifyPlugin(
  dashboard: Dashboard,
): (instance: FastifyInstanceLike, options: unknown, done: (error?: Error) => void) => void {
  return (instance, _options, done) => {
    const handler = async (request: FastifyRequestLike, reply: FastifyReplyLike) => {
      const url = stripPrefix(request.url, instance.prefix.replace(/\/+$/, '')) ?? request.url;
      const response = await dashboard.handle({
        method: request.method,
        url,
        originalUrl: request.url,
        headers: nodeHeaders(request.raw.headers),
        body: async () => {
          const body = request.body;
          if (typeof body === 'string') return parseJsonBody(Buffer.from(body));
          return body ?? {};
        },
        raw: request.raw,
      });
      reply.code(response.status);
      for (const [name, value] of Object.entries(response.headers)) reply.header(name, value);
      return reply.send(response.body);
    };
    instance.all('/', handler);
    instance.all('/*', handler);
    done();
  };
}
