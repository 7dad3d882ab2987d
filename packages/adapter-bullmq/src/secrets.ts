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

const REDACTED = '***';
/** Redis commands whose arguments carry credentials. */
const CREDENTIAL_COMMANDS = new Set(['auth', 'hello', 'migrate', 'acl', 'config']);

/**
 * Replace the arguments of credential commands (`AUTH`, `HELLO`...) that ioredis attaches to its
 * errors as `command.args`, in the error and everything it links to (`cause`, `errors`, ioredis's
 * `previousErrors` / `lastNodeError`), in place. This needs no knowledge of the password; the
 * driver also passes errors through the core's `Scrubber`, which removes the known secrets from
 * every string. Returns the same error.
 */
export function redactCredentialCommands<E>(error: E): E {
  const seen = new Set<object>();
  const visit = (value: unknown, depth: number) => {
    if (typeof value !== 'object' || value === null || seen.has(value) || depth > 20) return;
    seen.add(value);
    const record = value as Record<string, unknown>;
    redactCommand(record.command);
    for (const field of ['cause', 'previousErrors', 'lastNodeError', 'errors']) {
      const linked = record[field];
      if (Array.isArray(linked)) for (const item of linked) visit(item, depth + 1);
      else visit(linked, depth + 1);
    }
  };
  visit(error, 0);
  return error;
}

function redactCommand(command: unknown): void {
  if (typeof command !== 'object' || command === null) return;
  const { name, args } = command as { name?: unknown; args?: unknown };
  if (typeof name !== 'string' || !CREDENTIAL_COMMANDS.has(name.toLowerCase()) || !Array.isArray(args))
    return;
  try {
    Object.defineProperty(command, 'args', {
      value: args.map(() => REDACTED),
      writable: true,
      configurable: true,
      enumerable: Object.getOwnPropertyDescriptor(command, 'args')?.enumerable ?? true,
    });
  } catch {
    // A frozen object: nothing to do but leave it (ioredis errors are not frozen).
  }
}
