import { describe, expect, it } from 'vitest';
import { userHeaders } from '../src/headers.js';

describe('userHeaders', () => {
  it("drops the core's own headers in any letter case and keeps every other key as given", () => {
    const given: Record<string, string> = {
      'qk-attempt': '1',
      'QK-Max-Attempts': '3',
      'Qk-x': 'a',
      'content-type': 'application/json',
      'Content-Type': 'text/plain',
      qk: 'short',
      q: 'one letter',
      'qkx-a': 'no dash third',
      qk_a: 'underscore',
      'content-types': 'longer',
      contenttype1: 'no dash',
      c: 'c',
      '': 'empty',
      'x-trace': 't',
    };
    const out = userHeaders(given);
    expect({ ...out }).toEqual({
      qk: 'short',
      q: 'one letter',
      'qkx-a': 'no dash third',
      qk_a: 'underscore',
      'content-types': 'longer',
      contenttype1: 'no dash',
      c: 'c',
      '': 'empty',
      'x-trace': 't',
    });
    expect(Object.getPrototypeOf(out)).toBeNull();
  });

  it('keeps __proto__ as a plain key', () => {
    const given = JSON.parse('{"__proto__": "p", "qk-name": "n"}') as Record<string, string>;
    const out = userHeaders(given);
    expect(Object.keys(out)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toBe('p');
  });
});
