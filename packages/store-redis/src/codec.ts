/** How a value is laid out in Redis: a JSON string, or a hash of JSON-encoded properties. */
export type Encoded =
  | { readonly kind: 'string'; readonly json: string }
  | { readonly kind: 'hash'; readonly pairs: readonly string[] };

/** JSON text of a value; `undefined` (not JSON) is stored as `null`. */
export function toJson(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

/** True for a plain JSON object (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Field/JSON pairs of an object's own enumerable properties, skipping `undefined` ones as JSON does. */
export function toPairs(object: Readonly<Record<string, unknown>>): string[] {
  const pairs: string[] = [];
  for (const [field, value] of Object.entries(object)) {
    if (value === undefined) continue;
    pairs.push(field, toJson(value));
  }
  return pairs;
}

/** The layout of `value`: non-empty objects become hashes, everything else a JSON string. */
export function encode(value: unknown): Encoded {
  if (isPlainObject(value)) {
    const pairs = toPairs(value);
    if (pairs.length > 0) return { kind: 'hash', pairs };
  }
  return { kind: 'string', json: toJson(value) };
}

/** Decode the reply of the `get` script (`['s', json]`, `['h', [field, json, ...]]` or null). */
export function decode(reply: unknown): unknown {
  if (!Array.isArray(reply)) return undefined;
  const [kind, content] = reply as [string, unknown];
  if (kind === 's') return JSON.parse(String(content));
  const flat = content as string[];
  const object: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    // defineProperty keeps a field named `__proto__` an own property, as JSON.parse does.
    Object.defineProperty(object, flat[i] as string, {
      value: JSON.parse(flat[i + 1] as string),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return object;
}
