import { CORE_HEADERS, type Delivery } from '@queuekit/core';
import { expect } from 'vitest';
import type { DriverHarness } from '../harness.js';
import { it } from '../scope.js';

/** Every byte of a body, with sequences no UTF-8 decoder accepts (lone continuation, overlong, surrogate, 0xFF). */
export function nonUtf8Body(): Uint8Array {
  const invalid = [
    0x80, 0xbf, 0xc0, 0xaf, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80, 0xfe, 0xff,
  ];
  return Uint8Array.from([...invalid, ...Array.from({ length: 256 }, (_, i) => i), 0x00, 0x00, ...invalid]);
}

/** What a driver carries: ids, names, headers (the core's `qk-*` included) and bodies, byte for byte. */
export function messageCases(h: DriverHarness): void {
  it('headers (qk-* included) round-trip verbatim, with the id and name', async () => {
    const queue = h.queueName();
    const driver = await h.driver();
    const headers: Record<string, string> = {
      [CORE_HEADERS.attempt]: '3',
      [CORE_HEADERS.maxAttempts]: '5',
      [CORE_HEADERS.name]: 'send-email',
      [CORE_HEADERS.enqueuedAt]: '2026-01-02T03:04:05.678Z',
      [CORE_HEADERS.backoff]: '{"type":"exponential","delay":100}',
      [CORE_HEADERS.contentType]: 'application/json; charset=utf-8',
      'qk-custom-future': 'kept as is',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      'x-unicode': 'Grüße, 世界 🚀',
      'x-spaces': '  leading and trailing  ',
      'x-empty': '',
      'x-json': '{"a":[1,2,{"b":"c"}],"quote":"\\""}',
      'x-number-like': '007',
    };
    const message = h.message({ name: 'send-email', headers });
    await driver.send(queue, [message]);
    const delivery = await h.receiveOne(driver, queue, message.id);
    expect(delivery.id).toBe(message.id);
    if (delivery.name !== undefined) expect(delivery.name).toBe('send-email');
    const received: Record<string, string | undefined> = {};
    for (const key of Object.keys(headers)) received[key] = delivery.headers[key];
    expect(received).toEqual(headers);
    expect(delivery.deliveryCount).toBe(1);
    await delivery.ack();
  });

  it('a non-UTF-8 body and an empty body round-trip byte for byte', async () => {
    const queue = h.queueName();
    const driver = await h.driver();
    const binary = h.message({
      body: nonUtf8Body(),
      headers: { [CORE_HEADERS.contentType]: 'application/octet-stream' },
    });
    const empty = h.message({ body: new Uint8Array(0) });
    for (const message of [binary, empty]) await driver.send(queue, [message]);
    const { byId } = await h.receiveIds(driver, queue, [binary.id, empty.id]);
    expect([...(byId.get(binary.id) as Delivery).body]).toEqual([...binary.body]);
    expect((byId.get(empty.id) as Delivery).body.byteLength).toBe(0);
    for (const delivery of byId.values()) await delivery.ack();
  });

  it('a body that is a view into a larger buffer is sent as its own bytes only', async () => {
    const queue = h.queueName();
    const driver = await h.driver();
    // The JSON codec's bodies are such views (Buffer.from takes short texts from Node's shared pool).
    const backing = new Uint8Array(96).fill(0x5a);
    const body = backing.subarray(17, 17 + 40);
    for (let i = 0; i < body.length; i++) body[i] = 0x21 + i;
    const message = h.message({ body });
    await driver.send(queue, [message]);
    const delivery = await h.receiveOne(driver, queue, message.id);
    expect([...delivery.body]).toEqual([...body]);
    await delivery.ack();
  });
}
