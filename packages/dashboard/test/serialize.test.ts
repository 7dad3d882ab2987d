import { describe, expect, it } from 'vitest';
import { MAX_PREVIEW_CHARS } from '../src/index.js';
import { iso, preview } from '../src/serialize.js';

describe('preview: payloads and results as display text', () => {
  it('writes JSON, bytes as base64, bigints as text and cuts cycles', () => {
    expect(preview({ a: 1, s: 'x' })).toBe('{"a":1,"s":"x"}');
    expect(preview(new Uint8Array([0xff, 0, 1]))).toBe('{"base64":"/wAB"}');
    expect(preview({ n: 2n ** 70n })).toBe('{"n":"1180591620717411303424"}');
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    expect(preview(cyclic)).toBe('{"name":"loop","self":"[circular]"}');
    expect(preview(undefined)).toBeUndefined();
    expect(preview(null)).toBe('null');
  });

  it(`cuts text past ${MAX_PREVIEW_CHARS} characters, saying how long it was`, () => {
    const text = preview({ big: 'y'.repeat(10_000) }) ?? '';
    expect(text.length).toBeLessThan(MAX_PREVIEW_CHARS + 60);
    expect(text).toMatch(/… \[10010 characters, cut\]$/);
  });

  it('iso: valid dates only', () => {
    expect(iso(new Date(0))).toBe('1970-01-01T00:00:00.000Z');
    expect(iso(new Date(Number.NaN))).toBeUndefined();
    expect(iso(undefined)).toBeUndefined();
  });
});
