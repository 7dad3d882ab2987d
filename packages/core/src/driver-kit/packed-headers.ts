import { isCoreHeader, jsonObjectHeader } from '../headers.js';

/** The one header that carries the core's headers (`qk-*`, `content-type`) packed, on brokers that store each header apart. */
export const PACKED_HEADERS = 'qk-packed';

/**
 * The headers to put on the wire: the core's own (`qk-*`, `content-type`) folded into one JSON entry,
 * {@link PACKED_HEADERS}, beside the user's headers as they are. A broker that encodes, stores and parses each
 * header as its own table entry (AMQP, Pub/Sub attributes) then handles one entry where the core writes five.
 * Returns `headers` itself when it holds none of the core's.
 */
export function packCoreHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  let packed: Record<string, string> | undefined;
  let out: Record<string, string> | undefined;
  for (const key in headers) {
    const value = headers[key] as string;
    if (isCoreHeader(key)) {
      if (packed === undefined) packed = {};
      packed[key] = value;
    } else {
      if (out === undefined) out = {};
      out[key] = value;
    }
  }
  if (packed === undefined) return headers as Record<string, string>;
  if (out === undefined) out = {};
  out[PACKED_HEADERS] = JSON.stringify(packed);
  return out;
}

/**
 * The headers as sent: {@link packCoreHeaders} undone. A message without the packed entry (sent before it
 * existed, or by another producer) comes back as it is. The entry is untrusted input: unless it is a JSON object
 * whose keys are all core headers and whose values are all strings, it stays as it came, a `qk-*` header the core
 * ignores. Where a header is both packed and apart (only a forged message has both), the packed value wins.
 */
export function unpackCoreHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const raw = headers[PACKED_HEADERS];
  if (raw === undefined) return headers as Record<string, string>;
  const packed = parsePacked(raw);
  if (packed === undefined) return headers as Record<string, string>;
  const out: Record<string, string> = {};
  for (const key in headers) if (key !== PACKED_HEADERS) out[key] = headers[key] as string;
  for (const key in packed) out[key] = packed[key] as string;
  return out;
}

function parsePacked(raw: unknown): Record<string, string> | undefined {
  if (typeof raw !== 'string' || raw.charCodeAt(0) !== 0x7b /* { */) return undefined;
  const entries = jsonObjectHeader(raw);
  if (entries === undefined) return undefined;
  for (const key of Object.keys(entries)) {
    // Only core names, so `__proto__` and the like can never be copied onto a plain object.
    if (!isCoreHeader(key) || typeof entries[key] !== 'string') return undefined;
  }
  return entries as Record<string, string>;
}
