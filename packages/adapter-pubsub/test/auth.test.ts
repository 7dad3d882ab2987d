import { AuthenticationError, BrokerUnavailableError } from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import { classifyError, Status } from '../src/errors.js';

// The emulator takes any credentials (or none), so the mapping of Google's refusals is tested on the
// gRPC statuses the client library rejects with.
const grpcError = (code: number, details: string) =>
  Object.assign(new Error(`${code} ${details}`), { code, details });

describe('Pub/Sub refusing the credentials', () => {
  it('UNAUTHENTICATED is AuthenticationError naming Pub/Sub', () => {
    const mapped = classifyError(
      grpcError(Status.UNAUTHENTICATED, 'Request had invalid authentication credentials.'),
      'publish',
    );
    expect(mapped).toBeInstanceOf(AuthenticationError);
    expect(mapped).toMatchObject({ code: 'ERR_AUTH', broker: 'Pub/Sub' });
    expect(mapped?.message).toContain('publish');
  });

  it('PERMISSION_DENIED is AuthenticationError too', () => {
    expect(classifyError(grpcError(Status.PERMISSION_DENIED, 'User not authorized.'), 'pull')).toBeInstanceOf(
      AuthenticationError,
    );
  });

  it('UNAVAILABLE stays BrokerUnavailableError', () => {
    expect(classifyError(grpcError(Status.UNAVAILABLE, 'No connection established'), 'pull')).toBeInstanceOf(
      BrokerUnavailableError,
    );
  });
});
