import { describe, expect, it } from 'vitest';
import { schemeOf } from '../src/index.js';

describe('schemeOf on Service Bus connection strings', () => {
  it('maps a connection string to servicebus whatever the key order and case', () => {
    const keys = [
      'Endpoint=sb://ns.servicebus.windows.net/',
      'SharedAccessKeyName=app',
      'SharedAccessKey=s/e%c#r t',
    ];
    const orders = [
      [0, 1, 2],
      [1, 2, 0],
      [2, 0, 1],
      [1, 0, 2],
    ];
    for (const order of orders) {
      const text = order.map((index) => keys[index]).join(';');
      expect(schemeOf(text)).toBe('servicebus');
      expect(schemeOf(text.toLowerCase())).toBe('servicebus');
    }
    expect(schemeOf('SharedAccessKeyName=app; endpoint = sb://ns/;SharedAccessKey=x')).toBe('servicebus');
  });

  it('does not take a URL that merely contains the word Endpoint for a connection string', () => {
    expect(schemeOf('redis://h:6379/?Endpoint=sb://x')).toBe('redis');
  });
});
