import { describe, expect, it } from 'vitest';
import { backoffHeader, maxAttemptsHeader, stringRecord } from '../../src/driver-kit/index.js';

describe('stringRecord', () => {
  it('keeps the string values only, in an object without prototype', () => {
    const out = stringRecord(JSON.parse('{"a":"1","b":2,"c":null,"d":{"e":"f"},"__proto__":"x"}'));
    expect(Object.getPrototypeOf(out)).toBe(null);
    expect({ ...out }).toEqual({ a: '1', ['__proto__']: 'x' });
    expect(Object.keys(out)).toEqual(['a', '__proto__']);
  });

  it('gives {} for anything that is not an object', () => {
    for (const value of [undefined, null, 'text', 42, true]) expect({ ...stringRecord(value) }).toEqual({});
  });
});

describe('header readers exported by the kit', () => {
  it('are the core readers: bounded max attempts, a checked backoff policy', () => {
    expect(maxAttemptsHeader({ 'qk-max-attempts': '5' }, 0)).toBe(5);
    expect(maxAttemptsHeader({ 'qk-max-attempts': '5000' }, 0)).toBe(0);
    expect(maxAttemptsHeader({ 'qk-max-attempts': '1e2' }, 0)).toBe(0);
    expect(backoffHeader({ 'qk-backoff': '{"type":"fixed","delay":250}' })).toEqual({
      type: 'fixed',
      delay: 250,
      maxDelay: 3_600_000,
      jitter: 0,
    });
    expect(backoffHeader({ 'qk-backoff': '{"type":"custom"}' })).toBeUndefined();
  });
});
