import { inspect } from 'node:util';
import { Redis, type RedisOptions } from 'ioredis';

/** What a connection shows of itself: where it points, never its credentials or TLS keys. */
export interface ConnectionSummary {
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly db: number | undefined;
  readonly status: string;
}

/**
 * An ioredis connection that never shows its options (password, username, TLS keys) under
 * `util.inspect` or `JSON.stringify`. BullMQ duplicates it for blocking connections; the
 * duplicates are made safe too. Everything that holds a connection (BullMQ `Queue`, `Worker`,
 * `Job`) therefore prints without secrets.
 */
export function safeRedis(options: RedisOptions): Redis {
  return makeSafe(new Redis(options));
}

/** Configurable and writable: BullMQ wraps connections in a Proxy, which must be free to return its own. */
const HIDDEN = { enumerable: false, configurable: true, writable: true } as const;

function makeSafe(connection: Redis): Redis {
  const summary = (): ConnectionSummary => ({
    host: connection.options.host,
    port: connection.options.port,
    db: connection.options.db,
    status: connection.status,
  });
  const duplicate = connection.duplicate.bind(connection);
  const show = () => {
    const { host, port, db, status } = summary();
    return `Redis { ${host}:${port}/${db ?? 0} ${status} }`;
  };
  // BullMQ keeps the options object itself too (`RedisConnection.opts`).
  Object.defineProperties(connection.options, {
    toJSON: { value: summary, ...HIDDEN },
    [inspect.custom]: { value: () => `RedisOptions { ${show()} }`, ...HIDDEN },
  });
  Object.defineProperties(connection, {
    toJSON: { value: summary, ...HIDDEN },
    [inspect.custom]: { value: show, ...HIDDEN },
    duplicate: { value: (override?: Partial<RedisOptions>) => makeSafe(duplicate(override)), ...HIDDEN },
  });
  return connection;
}
