import { ConfigError } from '@queuekit/core';

/** The SQL statements of one store table, built once from its (validated, quoted) name. */
export interface Statements {
  readonly createTable: readonly string[];
  readonly get: string;
  readonly set: string;
  readonly claim: string;
  readonly merge: string;
  readonly mergeMany: string;
  readonly increment: string;
  readonly delete: string;
  readonly keys: string;
  readonly prune: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Split and validate `table` (`name` or `schema.name`), throwing {@link ConfigError} when invalid. */
export function parseTableName(table: string): { readonly schema?: string; readonly name: string } {
  const parts = table.split('.');
  if (parts.length > 2 || !parts.every((part) => IDENTIFIER.test(part))) {
    throw new ConfigError(
      'table',
      `expected "name" or "schema.name" made of letters, digits and _, got "${table}"`,
    );
  }
  return parts.length === 2
    ? { schema: parts[0] as string, name: parts[1] as string }
    : { name: parts[0] as string };
}

const quote = (identifier: string) => `"${identifier}"`;

/** A row is live when it has no expiry or expires in the future (the database's clock). */
const live = (alias: string) => `(${alias}.expires_at IS NULL OR ${alias}.expires_at > now())`;

/** `expires_at` for a TTL in ms given by the SQL expression `ttl` (NULL when it is not positive). */
const expiryOf = (ttl: string) => `CASE WHEN ${ttl} > 0 THEN now() + ${ttl} * interval '1 millisecond' END`;

/** `expires_at` for a TTL in ms held by parameter `$n`. */
const expiry = (n: number) => expiryOf(`$${n}::double precision`);

/** Every statement for `table`. */
export function statementsFor(table: string): Statements {
  const { schema, name } = parseTableName(table);
  const t = schema ? `${quote(schema)}.${quote(name)}` : quote(name);
  const index = quote(`${name}_expires_at_idx`.slice(0, 63));
  const upsert = `INSERT INTO ${t} AS t (key, value, expires_at)`;
  return {
    createTable: [
      // COLLATE "C" lets `key LIKE 'prefix%'` use the primary-key index.
      `CREATE TABLE IF NOT EXISTS ${t} (key text COLLATE "C" PRIMARY KEY, value jsonb NOT NULL, expires_at timestamptz)`,
      `CREATE INDEX IF NOT EXISTS ${index} ON ${t} (expires_at) WHERE expires_at IS NOT NULL`,
    ],
    get: `SELECT value FROM ${t} t WHERE key = $1 AND ${live('t')}`,
    set: `${upsert} VALUES ($1, $2::jsonb, ${expiry(3)})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    // Insert, or take over a row that has expired; a live row is left alone (0 rows).
    claim: `${upsert} VALUES ($1, $2::jsonb, ${expiry(3)})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
      WHERE NOT ${live('t')}`,
    merge: `${upsert} VALUES ($1, $2::jsonb, ${expiry(3)})
      ON CONFLICT (key) DO UPDATE SET
        value = CASE WHEN ${live('t')} AND jsonb_typeof(t.value) = 'object' THEN t.value || excluded.value
                     ELSE excluded.value END,
        expires_at = CASE WHEN $3::double precision > 0 THEN excluded.expires_at
                          WHEN ${live('t')} THEN t.expires_at END`,
    // Several merges in one statement: $1 is a JSON array of {k: key, v: patch, t: ttlMs}, keys distinct
    // (one statement cannot update a row twice). A row's expiry is NULL exactly when its TTL is not positive.
    mergeMany: `${upsert}
      SELECT w->>'k', w->'v', ${expiryOf("(w->>'t')::double precision")}
      FROM jsonb_array_elements($1::jsonb) AS w
      ON CONFLICT (key) DO UPDATE SET
        value = CASE WHEN ${live('t')} AND jsonb_typeof(t.value) = 'object' THEN t.value || excluded.value
                     ELSE excluded.value END,
        expires_at = CASE WHEN excluded.expires_at IS NOT NULL THEN excluded.expires_at
                          WHEN ${live('t')} THEN t.expires_at END`,
    increment: `${upsert} VALUES ($1, to_jsonb($2::numeric), ${expiry(3)})
      ON CONFLICT (key) DO UPDATE SET
        value = to_jsonb(CASE WHEN ${live('t')} AND jsonb_typeof(t.value) = 'number' THEN t.value::numeric
                              ELSE 0 END + $2::numeric),
        expires_at = CASE WHEN ${live('t')} THEN t.expires_at ELSE excluded.expires_at END
      RETURNING value`,
    delete: `DELETE FROM ${t} WHERE key = $1`,
    keys: `SELECT key FROM ${t} t WHERE key LIKE $1 ESCAPE '\\' AND ${live('t')} ORDER BY key`,
    prune: `DELETE FROM ${t} WHERE key IN (SELECT key FROM ${t} WHERE expires_at <= now() LIMIT $1)`,
  };
}

/** `LIKE` pattern matching every key that starts with `prefix` literally. */
export function likePrefix(prefix: string): string {
  return `${prefix.replace(/[\\%_]/g, '\\$&')}%`;
}
