import { type ServiceBusAdministrationClient, ServiceBusError } from '@azure/service-bus';
import {
  AuthenticationError,
  BrokerUnavailableError,
  DriverError,
  LockLostError,
  Scrubber,
} from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import { createQueueIfMissing } from '../src/admin.js';
import { classifyError, isEntityExisting, isEntityNotFound, isLockLost } from '../src/errors.js';

const context = {
  scrubber: new Scrubber(['Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=S3CRETKEY']),
  broker: 'sb://x',
};

describe('classifyError: network failures are BrokerUnavailableError', () => {
  // Seen in the fault suite: a send while the proxy refused connections failed with this (untyped before).
  it('a ServiceBusError GeneralError quoting ECONNRESET', () => {
    const mapped = classifyError(
      new ServiceBusError('ECONNRESET: read ECONNRESET', 'GeneralError'),
      'send to q',
      context,
    );
    expect(mapped).toBeInstanceOf(BrokerUnavailableError);
    expect(mapped.message).toContain('send to q');
  });

  it("rhea-promise's bare 'Failed to connect'", () => {
    expect(classifyError(new Error('Failed to connect'), 'receive from q', context)).toBeInstanceOf(
      BrokerUnavailableError,
    );
  });

  it('a GeneralError that is not a network failure is a DriverError holding a scrubbed copy, not the SDK object', () => {
    const error = new ServiceBusError('something else went wrong with S3CRETKEY', 'GeneralError');
    const mapped = classifyError(error, 'send to q', context);
    expect(mapped).toBeInstanceOf(DriverError);
    expect(mapped.cause).not.toBe(error);
    expect(mapped.cause).toMatchObject({ name: 'ServiceBusError', code: 'GeneralError' });
    expect(`${mapped.message} ${(mapped.cause as Error).message}`).not.toContain('S3CRETKEY');
  });
});

it('a refused key is AuthenticationError naming the namespace; a lost lock is LockLostError', () => {
  const refused = classifyError(
    new ServiceBusError('401 unauthorized', 'UnauthorizedAccess'),
    'send to q',
    context,
  );
  expect(refused).toBeInstanceOf(AuthenticationError);
  expect(refused.message).toContain('sb://x');
  expect(
    classifyError(new ServiceBusError('gone', 'MessageLockLost'), 'delivery.ack', context),
  ).toBeInstanceOf(LockLostError);
});

/** The administration API's errors, as @azure/service-bus 7.9.5 builds them (a RestError with its own codes). */
function restError(status: number, code: string): Error {
  return Object.assign(new Error(`${status}`), { name: 'RestError', code, statusCode: status });
}

describe('the codes the driver acts on, all read here', () => {
  it('a queue another client created meanwhile (409 of createQueue) is not an error of createQueueIfMissing', async () => {
    const admin = {
      queueExists: async () => false,
      createQueue: async () => {
        throw restError(409, 'MessageEntityAlreadyExistsError');
      },
    } as unknown as ServiceBusAdministrationClient;
    await expect(createQueueIfMissing(admin, 'q', undefined, false)).resolves.toBeUndefined();
  });

  it('any other createQueue failure still throws', async () => {
    const refused = restError(401, 'UnauthorizedRequestError');
    const admin = {
      queueExists: async () => false,
      createQueue: async () => {
        throw refused;
      },
    } as unknown as ServiceBusAdministrationClient;
    await expect(createQueueIfMissing(admin, 'q', undefined, false)).rejects.toBe(refused);
  });

  it('lock lost, no such queue, queue exists: over AMQP and over the administration API', () => {
    expect(isLockLost(new ServiceBusError('gone', 'MessageLockLost'))).toBe(true);
    expect(isLockLost(new ServiceBusError('busy', 'ServiceBusy'))).toBe(false);
    expect(isEntityNotFound(restError(404, 'MessageEntityNotFoundError'))).toBe(true);
    expect(isEntityNotFound(new ServiceBusError('no queue', 'MessagingEntityNotFound'))).toBe(true);
    expect(isEntityExisting(new ServiceBusError('exists', 'MessagingEntityAlreadyExists'))).toBe(true);
    expect(isEntityExisting(restError(409, 'ServiceError'))).toBe(false);
    expect(isLockLost(null)).toBe(false);
  });
});
