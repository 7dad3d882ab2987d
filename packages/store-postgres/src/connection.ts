import { ConfigError } from '@queuekit/core';

/** What the store knows of a connection string without keeping it: the address, the password. */
export interface ConnectionTarget {
  /** `host:port/database`, for error messages (never the credentials). */
  readonly where: string;
  /** The decoded password, to scrub from errors; empty when there is none. */
  readonly password: string;
}

const HINT =
  'expected postgres://user[:password]@host[:port]/database (percent-encode `/`, `#`, `%`, `@` and spaces in the password)';

/**
 * Check a `postgres://` / `postgresql://` connection string before `pg` sees it (its parser's
 * `TypeError` carries the whole string as `input`), naming the field, never the string. Other
 * forms (`host=... dbname=...`, socket paths) are left to `pg` and named generically.
 */
export function checkConnectionString(connectionString: string): ConnectionTarget {
  if (!/^postgres(ql)?:\/\//i.test(connectionString)) return { where: 'PostgreSQL', password: '' };
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new ConfigError('connectionString', `not a valid URL; ${HINT}`);
  }
  let password: string;
  try {
    password = decodeURIComponent(url.password);
    decodeURIComponent(url.username);
  } catch {
    throw new ConfigError('connectionString', `the user or password is not percent-encoded; ${HINT}`);
  }
  const host = url.hostname || 'localhost';
  return { where: `${host}:${url.port || 5432}${url.pathname}`, password };
}

/** Remove `secrets` from the messages and stacks of an error and everything it links to, in place. */
export function scrubError<E>(error: E, secrets: readonly string[]): E {
  const forms = [...new Set(secrets.filter((s) => s !== '').flatMap((s) => [s, encodeURIComponent(s)]))];
  if (forms.length === 0) return error;
  const seen = new Set<object>();
  const visit = (value: unknown) => {
    if (typeof value !== 'object' || value === null || seen.has(value)) return;
    seen.add(value);
    const record = value as Record<string, unknown>;
    for (const field of ['message', 'stack', 'input']) {
      const text = record[field];
      if (typeof text === 'string' && forms.some((form) => text.includes(form))) {
        const clean = forms.reduce((out, form) => out.split(form).join('***'), text);
        Object.defineProperty(record, field, { value: clean, writable: true, configurable: true });
      }
    }
    visit(record.cause);
    if (Array.isArray(record.errors)) for (const item of record.errors) visit(item);
  };
  visit(error);
  return error;
}
