import { createServer, type Server, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../src/harness.js';
import { startTcpProxy, type TcpProxy } from '../src/proxy.js';

let echo: Server;
let port = 0;

beforeAll(async () => {
  echo = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
  const address = echo.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  port = address.port;
});
afterAll(() => new Promise<void>((resolve) => echo.close(() => resolve())));

/** A client of `proxy` that records what it receives and whether it was closed. */
async function connect(proxy: TcpProxy) {
  const socket = new Socket();
  const seen = { text: '', closed: false };
  socket.on('data', (chunk) => {
    seen.text += chunk.toString();
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    seen.closed = true;
  });
  await new Promise<void>((resolve) => socket.connect(proxy.port, proxy.host, resolve));
  return { socket, seen };
}

const quiet = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('startTcpProxy', () => {
  it('forwards both ways and counts connections', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port });
    try {
      const { socket, seen } = await connect(proxy);
      socket.write('ping');
      await until('the echo', 5000, () => seen.text === 'ping');
      expect(proxy.accepted).toBe(1);
      expect(proxy.open).toBe(1);
      socket.destroy();
      await until('the connection to be gone', 5000, () => proxy.open === 0);
    } finally {
      await proxy.close();
    }
  });

  it('reset cuts every open connection and accepts new ones', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port });
    try {
      const a = await connect(proxy);
      const b = await connect(proxy);
      await until('both connections', 5000, () => proxy.open === 2);
      proxy.reset();
      await until('both clients closed', 5000, () => a.seen.closed && b.seen.closed);
      const c = await connect(proxy);
      c.socket.write('again');
      await until('the echo after the reset', 5000, () => c.seen.text === 'again');
      c.socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('refuse cuts connections and closes new ones unanswered until heal', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port });
    try {
      const a = await connect(proxy);
      proxy.refuse();
      expect(proxy.paused).toBe(true);
      await until('the open client closed', 5000, () => a.seen.closed);
      const refused = await connect(proxy);
      refused.socket.write('hello?');
      await until('the new client closed', 5000, () => refused.seen.closed);
      expect(refused.seen.text).toBe('');
      expect(proxy.accepted).toBe(1);
      proxy.heal();
      const b = await connect(proxy);
      b.socket.write('back');
      await until('the echo after heal', 5000, () => b.seen.text === 'back');
      b.socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('blackhole keeps connections open but forwards nothing until heal, then delivers what was held', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port });
    try {
      const open = await connect(proxy);
      open.socket.write('a');
      await until('the first echo', 5000, () => open.seen.text === 'a');
      proxy.blackhole();
      open.socket.write('b');
      const late = await connect(proxy); // accepted, but its upstream is not connected yet
      late.socket.write('c');
      await quiet(400);
      expect(open.seen).toEqual({ text: 'a', closed: false });
      expect(late.seen).toEqual({ text: '', closed: false });
      proxy.heal();
      await until('the held bytes', 5000, () => open.seen.text === 'ab' && late.seen.text === 'c');
      open.socket.destroy();
      late.socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('latency delays each direction and keeps the byte order', async () => {
    const proxy = await startTcpProxy({ host: '127.0.0.1', port });
    try {
      const { socket, seen } = await connect(proxy);
      proxy.latency(150);
      const started = Date.now();
      for (const part of ['1', '2', '3', '4', '5']) socket.write(part);
      await until('the echo', 5000, () => seen.text === '12345');
      // One delay on the way up and one on the way back.
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      proxy.heal();
      seen.text = '';
      socket.write('x');
      await until('the echo without latency', 5000, () => seen.text === 'x');
      socket.destroy();
    } finally {
      await proxy.close();
    }
  });
});
