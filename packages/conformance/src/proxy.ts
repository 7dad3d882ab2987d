import { createServer, type Server, Socket } from 'node:net';

/** A TCP proxy to one broker that the suite can make unreachable and reachable again. */
export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** Whether connections are refused now. */
  readonly paused: boolean;
  /** Drop every open connection and refuse new ones (the broker is down, as seen from the client). */
  pause(): void;
  /** Accept and forward connections again. */
  resume(): void;
  close(): Promise<void>;
}

/** Start a proxy on 127.0.0.1 (a free port) forwarding to `target`; `paused` starts it unreachable. */
export async function startTcpProxy(
  target: { readonly host: string; readonly port: number },
  options: { readonly paused?: boolean } = {},
): Promise<TcpProxy> {
  let paused = options.paused ?? false;
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (paused) {
      client.destroy();
      return;
    }
    const upstream = new Socket();
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    upstream.connect(target.port, target.host, () => {
      client.pipe(upstream);
      upstream.pipe(client);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy: no TCP address');
  return {
    host: '127.0.0.1',
    port: address.port,
    get paused() {
      return paused;
    },
    pause() {
      paused = true;
      for (const socket of open) socket.destroy();
      open.clear();
    },
    resume() {
      paused = false;
    },
    async close() {
      paused = true;
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
