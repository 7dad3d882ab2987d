/**
 * A new empty object without prototype (`__proto__` is then an ordinary key). Made with `Object.setPrototypeOf`
 * rather than `Object.create(null)`: V8 keeps the latter in dictionary mode, which made building, reading and
 * spreading a job's few headers about 6x slower (3.3 µs against 0.5 for create, two keys, a read, a `for in` and
 * a spread; Node 20).
 */
export function nullPrototypeRecord<V>(): Record<string, V> {
  return Object.setPrototypeOf({}, null) as Record<string, V>;
}

/**
 * The string values of an untrusted object (a JSON field or attribute map another producer wrote), in an object
 * without prototype, so `__proto__` is just a name. Values of other types are left out; anything that is not an
 * object gives `{}`. Never throws on plain data.
 */
export function stringRecord(value: unknown): Record<string, string> {
  const out = nullPrototypeRecord<string>();
  if (typeof value !== 'object' || value === null) return out;
  for (const [key, entry] of Object.entries(value)) if (typeof entry === 'string') out[key] = entry;
  return out;
}
