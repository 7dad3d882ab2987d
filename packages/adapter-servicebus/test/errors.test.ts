import { ServiceBusError } from '@azure/service-bus';
import { BrokerUnavailableError } from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import { mapError } from '../src/errors.js';

describe('mapError: network failures are BrokerUnavailableError', () => {
  // Seen in the fault suite: a send while the proxy refused connections failed with this (untyped before).
  it('a ServiceBusError GeneralError quoting ECONNRESET', () => {
    const mapped = mapError(new ServiceBusError('ECONNRESET: read ECONNRESET', 'GeneralError'), 'send to q');
    expect(mapped).toBeInstanceOf(BrokerUnavailableError);
    expect(mapped.message).toContain('send to q');
  });

  it("rhea-promise's bare 'Failed to connect'", () => {
    expect(mapError(new Error('Failed to connect'), 'receive from q')).toBeInstanceOf(BrokerUnavailableError);
  });

  it('a GeneralError that is not a network failure stays as it is', () => {
    const error = new ServiceBusError('something else went wrong', 'GeneralError');
    expect(mapError(error, 'send to q')).toBe(error);
  });
});
