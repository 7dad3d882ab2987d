/**
 * A tiny HTTP side channel for tests in other processes (vitest workers): create, inspect and
 * delete queues. Real Service Bus does this through the ATOM management API over HTTPS, which this
 * server does not implement.
 *
 * - `PUT /queues/NAME` with an optional JSON body of {@link QueueProperties} fields: create or reconfigure.
 * - `GET /queues/NAME`: counts `{ active, locked, scheduled, deferred, deadLettered }`.
 * - `DELETE /queues/NAME`: delete the queue and its dead letters.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { QueueProperties } from './config.js';
import type { ServiceBusEmulator } from './server.js';

/** A running control server. */
export interface ControlServer {
  readonly port: number;
  close(): Promise<void>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(response: ServerResponse, status: number, body?: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(body === undefined ? '' : JSON.stringify(body));
}

/** Serve the control API for `emulator` on `port` (0 = free port) of 127.0.0.1. */
export async function startControlServer(emulator: ServiceBusEmulator, port = 0): Promise<ControlServer> {
  const server = createServer((request, response) => {
    const match = /^\/queues\/([^/?]+)$/.exec(request.url ?? '');
    if (!match?.[1]) return send(response, 404, { error: 'not found' });
    const name = decodeURIComponent(match[1]);
    void (async () => {
      if (request.method === 'PUT') {
        const text = await readBody(request);
        const properties = (text ? JSON.parse(text) : {}) as Partial<QueueProperties>;
        emulator.createQueue(name, properties);
        return send(response, 201, { name });
      }
      if (request.method === 'DELETE') return send(response, emulator.deleteQueue(name) ? 200 : 404);
      if (request.method === 'GET') {
        const entity = emulator.entity(name, false);
        if (!entity) return send(response, 404, { error: 'no such queue' });
        return send(response, 200, {
          ...entity.counts(),
          deadLettered: entity.deadLetterQueue?.messages.size ?? 0,
        });
      }
      return send(response, 405, { error: 'method not allowed' });
    })().catch((error: unknown) => send(response, 400, { error: String(error) }));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
