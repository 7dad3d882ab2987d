const utf8Bytes = (char: string) => Buffer.byteLength(char);

/**
 * `text` itself when its size (the sum of `sizeOf` over its code points; UTF-8 bytes by default) is at most
 * `maxBytes`, else its longest prefix of whole code points that fits with a `...` marker after it. For broker
 * limits counted in bytes as sent (attribute values, dead-letter error text), where the core counts characters.
 */
export function cutText(
  text: string,
  maxBytes: number,
  sizeOf: (char: string) => number = utf8Bytes,
): string {
  let size = 0;
  for (const char of text) size += sizeOf(char);
  if (size <= maxBytes) return text;
  let out = '';
  let used = '...'.length;
  for (const char of text) {
    used += sizeOf(char);
    if (used > maxBytes) break;
    out += char;
  }
  return `${out}...`;
}
