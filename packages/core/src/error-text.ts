/**
 * Longest error text the core stores (job records, fan-out outcomes, dead-letter info): 4,096
 * characters. Handler errors can carry whole payloads or responses; longer text is cut, marked.
 */
export const MAX_ERROR_TEXT = 4_096;

/** `text` cut to {@link MAX_ERROR_TEXT} characters (never inside a surrogate pair), with a marker saying how much went. */
export function capErrorText(text: string, max = MAX_ERROR_TEXT): string {
  if (text.length <= max) return text;
  const marker = ` … [${text.length} characters, cut]`;
  let end = Math.max(0, max - marker.length);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end) + marker;
}
