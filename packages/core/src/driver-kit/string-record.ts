/**
 * The string values of an untrusted object (a JSON field or attribute map another producer wrote), in an object
 * without prototype, so `__proto__` is just a name. Values of other types are left out; anything that is not an
 * object gives `{}`. Never throws on plain data.
 */
export function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (typeof value !== 'object' || value === null) return out;
  for (const [key, entry] of Object.entries(value)) if (typeof entry === 'string') out[key] = entry;
  return out;
}
