import { describe, expect, it } from 'vitest';
import { cutText } from '../../src/driver-kit/index.js';

describe('cutText', () => {
  it('keeps text that fits and cuts the rest to whole code points with a marker', () => {
    expect(cutText('short', 5)).toBe('short');
    expect(cutText('abcdef', 5)).toBe('ab...');
    const cut = cutText('é'.repeat(100), 50);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(50);
    expect(cut).toBe(`${'é'.repeat(23)}...`);
    const astral = cutText('🎉'.repeat(100), 40);
    expect(astral).toBe(`${'🎉'.repeat(9)}...`);
  });

  it('counts with the given size of a code point', () => {
    const escaped = (char: string) => JSON.stringify(char).replace(/[\u007f-\uffff]/g, '\\uXXXX').length - 2;
    expect(cutText('aé', 7, escaped)).toBe('aé');
    const cut = cutText('é'.repeat(10), 20, escaped);
    expect(cut).toBe('éé...');
  });
});
