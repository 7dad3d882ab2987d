import { randomFillSync } from 'node:crypto';

/** Random bytes drawn at once for this many ids (one call into the runtime per 256 jobs). */
const IDS_PER_DRAW = 256;
const pool = Buffer.allocUnsafe(16 * IDS_PER_DRAW);
let used = pool.length;
const text = Buffer.allocUnsafe(36);
const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * A new job id: a random (version 4) UUID, as `crypto.randomUUID()` gives, written out as one flat string.
 * Node builds `randomUUID()`'s text from 30-odd concatenated pieces (a rope of about 600 bytes), which
 * every Map or Set keyed by the id (job records, the memory broker) has to walk to hash, and every later
 * string made from it (the record's store key) walks again.
 */
export function newJobId(): string {
  if (used === pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  let at = 0;
  for (let i = 0; i < 16; i++) {
    let byte = pool[used + i] as number;
    // The version (4) and the RFC 4122 variant, as randomUUID sets them.
    if (i === 6) byte = (byte & 0x0f) | 0x40;
    else if (i === 8) byte = (byte & 0x3f) | 0x80;
    if (i === 4 || i === 6 || i === 8 || i === 10) text[at++] = 0x2d; // '-'
    text[at++] = HEX[byte >> 4] as number;
    text[at++] = HEX[byte & 0x0f] as number;
  }
  used += 16;
  return text.toString('latin1', 0, 36);
}
