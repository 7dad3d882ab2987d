import { describe, expect, it } from 'vitest';
import type { ReceivedMessage } from '../../src/driver.js';
import { readMessage } from '../../src/driver-kit/index.js';

const base: ReceivedMessage = {
  id: 'j1',
  body: new Uint8Array(),
  headers: {},
  deliveryCount: 1,
  raw: undefined,
};

describe('readMessage', () => {
  it('takes the broker name, else qk-name, else default', () => {
    expect(readMessage({ ...base, name: 'broker', headers: { 'qk-name': 'header' } }).name).toBe('broker');
    expect(readMessage({ ...base, headers: { 'qk-name': 'header' } }).name).toBe('header');
    expect(readMessage(base).name).toBe('default');
  });

  it('counts the attempt from qk-attempt plus redeliveries in place', () => {
    expect(readMessage({ ...base, headers: { 'qk-attempt': '3' } }).attempt).toBe(3);
    expect(readMessage({ ...base, headers: { 'qk-attempt': '3' }, deliveryCount: 2 }).attempt).toBe(4);
    expect(readMessage({ ...base, headers: { 'qk-attempt': '0' }, deliveryCount: 0 }).attempt).toBe(1);
    expect(
      readMessage({ ...base, headers: { 'qk-attempt': '2e1' }, deliveryCount: Number.NaN }).attempt,
    ).toBe(1);
  });

  it('prefers the attempts recorded with a dead letter', () => {
    expect(
      readMessage({ ...base, headers: { 'qk-attempt': '1' }, deliveryCount: 5, attempts: 3 }).attempt,
    ).toBe(3);
    expect(readMessage({ ...base, headers: { 'qk-attempt': '2' }, attempts: 0 }).attempt).toBe(2);
  });

  it('trusts the broker priority only when native, clamped to 0-9', () => {
    const message = { ...base, priority: 7, headers: { 'qk-priority': '3' } };
    expect(readMessage(message).priority).toBe(7);
    expect(readMessage(message, { priority: 'native' }).priority).toBe(7);
    expect(readMessage(message, { priority: 'emulated' }).priority).toBe(3);
    expect(readMessage({ ...base, headers: { 'qk-priority': '42' } }).priority).toBe(9);
  });

  it('gives user headers only, runAt and enqueuedAt when valid', () => {
    const view = readMessage({
      ...base,
      enqueuedAt: new Date(5_000),
      headers: { 'qk-not-before': '2000', 'qk-enqueued-at': '1000', 'content-type': 'x', tenant: 'a' },
    });
    expect({ ...view.headers }).toEqual({ tenant: 'a' });
    expect(view.runAt).toEqual(new Date(2_000));
    expect(view.enqueuedAt).toEqual(new Date(1_000));
    const plain = readMessage({ ...base, enqueuedAt: new Date(5_000), headers: { 'qk-not-before': 'soon' } });
    expect(plain.runAt).toBeUndefined();
    expect(plain.enqueuedAt).toEqual(new Date(5_000));
    expect(readMessage({ ...base, headers: { 'qk-not-before': '9999999999999999' } }).runAt).toBeUndefined();
  });
});
