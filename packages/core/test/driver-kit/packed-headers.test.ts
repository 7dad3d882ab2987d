import { describe, expect, it } from 'vitest';
import { PACKED_HEADERS, packCoreHeaders, unpackCoreHeaders } from '../../src/driver-kit/index.js';

const sent = {
  'content-type': 'application/json',
  'qk-name': 'email',
  'qk-attempt': '1',
  'qk-max-attempts': '3',
  'qk-enqueued-at': '1764624000000',
  traceparent: '00-abc-def-01',
  'x-tenant': 'ünï',
};

describe('packCoreHeaders / unpackCoreHeaders', () => {
  it('folds the core headers into one entry beside the user headers, and unfolds them verbatim', () => {
    const wire = packCoreHeaders(sent);
    expect(Object.keys(wire).sort()).toEqual([PACKED_HEADERS, 'traceparent', 'x-tenant']);
    expect(JSON.parse(wire[PACKED_HEADERS] as string)).toEqual({
      'content-type': 'application/json',
      'qk-name': 'email',
      'qk-attempt': '1',
      'qk-max-attempts': '3',
      'qk-enqueued-at': '1764624000000',
    });
    expect(unpackCoreHeaders(wire)).toEqual(sent);
  });

  it('round-trips any letter case, a header named like the packed one, and headers with nothing to pack', () => {
    const odd = { 'QK-Name': 'a', [PACKED_HEADERS]: 'user-set', 'Content-Type': 'text/plain', x: '1' };
    expect(unpackCoreHeaders(packCoreHeaders(odd))).toEqual(odd);
    const plain = { x: '1' };
    expect(packCoreHeaders(plain)).toBe(plain);
    expect(unpackCoreHeaders(plain)).toBe(plain);
    expect(unpackCoreHeaders(packCoreHeaders({}))).toEqual({});
  });

  it('reads a message sent before packing (headers apart) as it is', () => {
    expect(unpackCoreHeaders(sent)).toEqual(sent);
  });

  it('keeps a forged or malformed packed entry as it came, and never copies a non-core key out of it', () => {
    for (const forged of [
      'not json',
      '{"qk-name":',
      '[]',
      'null',
      '{"qk-name": 5}',
      '{"traceparent":"x"}',
      '{"__proto__":{"polluted":"yes"}}',
      '{"qk-attempt":"1","constructor":"x"}',
    ]) {
      const headers = { [PACKED_HEADERS]: forged, 'qk-name': 'kept' };
      const read = unpackCoreHeaders(headers);
      expect(read).toEqual(headers);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }
  });

  it('lets the packed value win over the same header apart (a forged message carrying both)', () => {
    const read = unpackCoreHeaders({ [PACKED_HEADERS]: '{"qk-attempt":"2"}', 'qk-attempt': '9', x: 'y' });
    expect(read).toEqual({ 'qk-attempt': '2', x: 'y' });
  });
});
