import { ConfigError, PayloadTooLargeError } from '../errors.js';

/** Bounds of {@link chunk}. */
export interface ChunkLimits<T> {
  /** Most items per chunk (an integer ≥ 1): a driver's `maxBatchSize`, SQS's 10. */
  readonly maxCount: number;
  /** Most bytes per chunk, as `sizeOf` counts them. Default unbounded. */
  readonly maxBytes?: number;
  /** Size of one item in bytes (needed with `maxBytes`). */
  readonly sizeOf?: (item: T) => number;
  /** Named in the `PayloadTooLargeError` of an item larger than `maxBytes` alone. Default `driver`. */
  readonly provider?: string;
}

/**
 * `items` split, in order, into the fewest consecutive chunks of at most `maxCount` items and `maxBytes`
 * bytes. An item that cannot fit any chunk is a `PayloadTooLargeError` before anything is chunked, so a
 * caller never sends part of a batch that cannot be sent whole.
 */
export function chunk<T>(items: readonly T[], limits: ChunkLimits<T>): T[][] {
  const { maxCount, maxBytes, sizeOf } = limits;
  if (!Number.isInteger(maxCount) || maxCount < 1)
    throw new ConfigError('maxCount', 'expected an integer ≥ 1');
  if (maxBytes !== undefined && !(maxBytes > 0))
    throw new ConfigError('maxBytes', 'expected a number of bytes > 0');
  if (maxBytes !== undefined && !sizeOf) throw new ConfigError('sizeOf', 'needed with maxBytes');
  const sizes = maxBytes === undefined || !sizeOf ? undefined : items.map(sizeOf);
  sizes?.forEach((size) => {
    if (maxBytes !== undefined && size > maxBytes)
      throw new PayloadTooLargeError(size, maxBytes, limits.provider ?? 'driver');
  });
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  items.forEach((item, index) => {
    const size = sizes?.[index] ?? 0;
    const full = current.length >= maxCount || (maxBytes !== undefined && bytes + size > maxBytes);
    if (full && current.length > 0) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  });
  if (current.length > 0) chunks.push(current);
  return chunks;
}
