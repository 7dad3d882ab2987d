import { describe, expect, it } from 'vitest';
import { chunk } from '../../src/driver-kit/index.js';
import { ConfigError, PayloadTooLargeError } from '../../src/errors.js';

describe('chunk', () => {
  it('bounds the count, keeping order', () => {
    expect(chunk([1, 2, 3, 4, 5], { maxCount: 2 })).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunk([], { maxCount: 2 })).toEqual([]);
  });

  it('bounds the bytes and the count together', () => {
    const sizes = [4, 4, 4, 9, 1, 1, 1];
    expect(chunk(sizes, { maxCount: 3, maxBytes: 10, sizeOf: (n) => n })).toEqual([
      [4, 4],
      [4],
      [9, 1],
      [1, 1],
    ]);
  });

  it('refuses an item larger than a chunk before chunking anything', () => {
    let error: unknown;
    try {
      chunk([1, 20, 1], { maxCount: 10, maxBytes: 10, sizeOf: (n) => n, provider: 'sqs' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PayloadTooLargeError);
    expect(error).toMatchObject({ size: 20, limit: 10, provider: 'sqs' });
  });

  it('refuses bounds that cannot chunk', () => {
    expect(() => chunk([1], { maxCount: 0 })).toThrow(ConfigError);
    expect(() => chunk([1], { maxCount: 1.5 })).toThrow(ConfigError);
    expect(() => chunk([1], { maxCount: 1, maxBytes: 10 })).toThrow(ConfigError);
  });
});
