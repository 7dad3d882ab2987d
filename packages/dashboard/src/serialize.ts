/** Longest payload, result or progress text sent to the page, in characters. */
export const MAX_PREVIEW_CHARS = 4_000;

/** JSON of any value the codecs may produce: bytes as base64, bigints as strings, cycles cut. */
function toJsonText(value: unknown): string {
  const seen = new WeakSet<object>();
  const text = JSON.stringify(value, (_key, field: unknown) => {
    if (typeof field === 'bigint') return field.toString();
    if (field instanceof Uint8Array) return { base64: Buffer.from(field).toString('base64') };
    if (typeof field === 'object' && field !== null) {
      if (seen.has(field)) return '[circular]';
      seen.add(field);
    }
    return field;
  });
  return text ?? String(value);
}

/** A value as display text for the page, cut to {@link MAX_PREVIEW_CHARS}. */
export function preview(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  let text: string;
  try {
    text = toJsonText(value);
  } catch {
    text = '[not serialisable]';
  }
  return text.length > MAX_PREVIEW_CHARS
    ? `${text.slice(0, MAX_PREVIEW_CHARS)} … [${text.length} characters, cut]`
    : text;
}

export function iso(date: Date | undefined): string | undefined {
  return date instanceof Date && !Number.isNaN(date.getTime()) ? date.toISOString() : undefined;
}
