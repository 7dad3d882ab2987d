import { createServer, type Server, Socket } from 'node:net';

/**
 * The network faults a fault case applies between a driver and its broker: the TCP proxy below, or a
 * simulated network for a broker without one (memory).
 */
export interface NetworkFaults {
  /** Cut every open connection once; new ones are accepted (a broker restart, an idle-connection kill). */
  reset(): void;
  /** Cut every open connection and refuse new ones until {@link heal} (the broker is down). */
  refuse(): void;
  /** Accept connections and keep open ones, but forward nothing either way until {@link heal}. */
  blackhole(): void;
  /** Delay everything by `ms` in each direction (0 removes it). */
  latency(ms: number): void;
  /** Back to a healthy network: accept, forward, no added latency. */
  heal(): void;
}

/** A TCP proxy to one broker that the suite can make unreachable, slow or silent, and healthy again. */
export interface TcpProxy extends NetworkFaults {
  readonly host: string;
  readonly port: number;
  /** Whether connections are refused now. */
  readonly paused: boolean;
  /** Connections accepted since the start (refused ones not counted). */
  readonly accepted: number;
  /** Client connections open now. */
  readonly open: number;
  /** Drop every open connection and refuse new ones (the broker is down, as seen from the client). */
  pause(): void;
  /** Accept and forward connections again (black hole and latency stay as they are). */
  resume(): void;
  close(): Promise<void>;
}

interface State {
  blackholed: boolean;
  latencyMs: number;
}

/**
 * One direction of a proxied connection. Chunks leave in arrival order, each `latencyMs` after it
 * arrived; while black-holed they are held (and the source paused) and leave once the hole closes, as
 * TCP retransmits after a partition heals.
 */
class Link {
  private readonly due: { chunk: Buffer; at: number }[] = [];
  private readonly held: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly state: State,
  ) {
    from.on('data', (chunk: Buffer) => {
      if (this.state.blackholed) {
        this.held.push(chunk);
        from.pause();
        return;
      }
      this.enqueue(chunk);
    });
  }

  /** The black hole closed: forward what was held and read again. */
  release(): void {
    for (const chunk of this.held.splice(0)) this.enqueue(chunk);
    if (!this.from.destroyed) this.from.resume();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.due.length = 0;
    this.held.length = 0;
  }

  private enqueue(chunk: Buffer): void {
    if (this.state.latencyMs <= 0 && this.due.length === 0) {
      this.write(chunk);
      return;
    }
    this.due.push({ chunk, at: Date.now() + this.state.latencyMs });
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.due.length === 0) return;
    const first = this.due[0];
    if (!first) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        const now = Date.now();
        while (this.due.length > 0 && (this.due[0]?.at ?? Infinity) <= now) {
          const next = this.due.shift();
          if (next) this.write(next.chunk);
        }
        this.schedule();
      },
      Math.max(0, first.at - Date.now()),
    );
  }

  private write(chunk: Buffer): void {
    if (!this.to.destroyed) this.to.write(chunk);
  }
}

interface Connection {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly links: Link[];
  /** Connect upstream (deferred while black-holed: the SYN is lost). */
  connect(): void;
  connected: boolean;
  drop(): void;
}

/** Start a proxy on 127.0.0.1 (a free port) forwarding to `target`; `paused` starts it unreachable. */
export async function startTcpProxy(
  target: { readonly host: string; readonly port: number },
  options: { readonly paused?: boolean } = {},
): Promise<TcpProxy> {
  let paused = options.paused ?? false;
  let accepted = 0;
  const state: State = { blackholed: false, latencyMs: 0 };
  const open = new Set<Connection>();
  const dropAll = () => {
    for (const connection of [...open]) connection.drop();
  };
  const server: Server = createServer((client) => {
    if (paused) {
      client.destroy();
      return;
    }
    accepted++;
    const upstream = new Socket();
    const connection: Connection = {
      client,
      upstream,
      connected: false,
      links: [new Link(client, upstream, state), new Link(upstream, client, state)],
      connect() {
        if (connection.connected) return;
        connection.connected = true;
        upstream.connect(target.port, target.host);
      },
      drop() {
        for (const link of connection.links) link.stop();
        client.destroy();
        upstream.destroy();
        open.delete(connection);
      },
    };
    open.add(connection);
    client.on('error', connection.drop).on('close', connection.drop);
    upstream.on('error', connection.drop).on('close', connection.drop);
    if (!state.blackholed) connection.connect();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy: no TCP address');
  const openHole = () => {
    state.blackholed = false;
    for (const connection of open) {
      connection.connect();
      for (const link of connection.links) link.release();
    }
  };
  const proxy: TcpProxy = {
    host: '127.0.0.1',
    port: address.port,
    get paused() {
      return paused;
    },
    get accepted() {
      return accepted;
    },
    get open() {
      return open.size;
    },
    pause() {
      paused = true;
      dropAll();
    },
    resume() {
      paused = false;
    },
    reset() {
      dropAll();
    },
    refuse() {
      proxy.pause();
    },
    blackhole() {
      state.blackholed = true;
    },
    latency(ms) {
      state.latencyMs = Math.max(0, ms);
    },
    heal() {
      paused = false;
      state.latencyMs = 0;
      openHole();
    },
    async close() {
      paused = true;
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return proxy;
}
