import { ConfigError } from '@queuekit/core';

/** What the store shows of a connection string: the address. */
export interface ConnectionTarget {
  /** `host:port/database`, for error messages (never the credentials). */
  readonly where: string;
}

const HINT =
  'expected postgres://user[:password]@host[:port]/database (percent-encode `/`, `#`, `%`, `@` and spaces in the password)';

/**
 * Check a `postgres://` / `postgresql://` connection string before `pg` sees it (its parser's
 * `TypeError` carries the whole string as `input`), naming the field, never the string. Other
 * forms (`host=... dbname=...`, socket paths) are left to `pg` and named generically.
 */
export function checkConnectionString(connectionString: string): ConnectionTarget {
  if (!/^postgres(ql)?:\/\//i.test(connectionString)) return { where: 'PostgreSQL' };
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new ConfigError('connectionString', `not a valid URL; ${HINT}`);
  }
  try {
    decodeURIComponent(url.password);
    decodeURIComponent(url.username);
  } catch {
    throw new ConfigError('connectionString', `the user or password is not percent-encoded; ${HINT}`);
  }
  const host = url.hostname || 'localhost';
  return { where: `${host}:${url.port || 5432}${url.pathname}` };
}
