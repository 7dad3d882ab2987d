import { ConfigError } from '@queuekit/core';
import type { RedisOptions } from 'ioredis';

/** Connection settings read from a store URL, and the address to name in errors. */
export interface ParsedStoreUrl {
  readonly redis: RedisOptions;
  /** `host:port`, for error messages (never the credentials). */
  readonly where: string;
}

const HINT =
  'expected redis://[user:password@]host[:port][/db] or rediss://... (percent-encode `/`, `#`, `%`, `@` in the password)';

/**
 * Parse `redis://` / `rediss://` (any case) into ioredis options, turning TLS on for `rediss`
 * explicitly: ioredis only does so for a lower-case `rediss://`, so a URL handed to it as is
 * would connect in plaintext. Errors name the field, never the URL (it may carry a password).
 */
export function parseStoreUrl(url: string): ParsedStoreUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('url', `not a valid URL; ${HINT}`);
  }
  const scheme = parsed.protocol.replace(/:$/, '').toLowerCase();
  if (scheme !== 'redis' && scheme !== 'rediss')
    throw new ConfigError('url', `scheme "${scheme}:" is not supported; ${HINT}`);
  const host = parsed.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = parsed.port ? Number(parsed.port) : 6379;
  const redis: RedisOptions = { host, port };
  if (parsed.username) redis.username = decodeLenient(parsed.username);
  if (parsed.password) redis.password = decodeLenient(parsed.password);
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '') {
    if (!/^\d+$/.test(db)) throw new ConfigError('url', 'the path must be a database number, e.g. /0');
    redis.db = Number(db);
  }
  for (const key of parsed.searchParams.keys()) {
    throw new ConfigError(
      'url',
      `unknown query parameter "${key}"; pass ioredis options as \`redisOptions\``,
    );
  }
  if (scheme === 'rediss') redis.tls = { servername: host };
  return { redis, where: `${host.includes(':') ? `[${host}]` : host}:${port}` };
}

/** Percent-decode, keeping a lone `%` (a password that was never encoded) as it is. */
function decodeLenient(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
