import { QueuekitError } from '@queuekit/core';
import { expect } from 'vitest';
import type { DriverHarness } from '../harness.js';
import { it } from '../scope.js';

/** Values a vendor SDK (or a bug) may reject with, the hostile ones included. */
function oddErrors(): unknown[] {
  const circular: Record<string, unknown> = { code: 'ECONNRESET' };
  circular.self = circular;
  const throwing = Object.defineProperties(new Error('getter'), {
    message: {
      get() {
        throw new Error('message getter');
      },
    },
    code: {
      get() {
        throw new Error('code getter');
      },
    },
  });
  return [
    undefined,
    null,
    'a string',
    42,
    Symbol('thrown'),
    new Error('plain'),
    Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    { code: 'ETIMEDOUT', message: 'not an Error' },
    Object.create(null),
    circular,
    throwing,
  ];
}

/** `classifyError` turns what a driver call rejects with into a queuekit error, or says it does not know. */
export function errorCases(h: DriverHarness): void {
  it('classifyError never throws and answers a QueuekitError or undefined, whatever it is given', async (context) => {
    const driver = await h.driver();
    if (!driver.classifyError) return context.skip();
    const answers: string[] = [];
    for (const operation of ['send', 'receive', 'delivery.ack', 'listDeadLetters']) {
      for (const [i, error] of oddErrors().entries()) {
        const answer = driver.classifyError(error, operation);
        if (answer !== undefined && !QueuekitError.is(answer))
          answers.push(`${operation} #${i}: ${Object.prototype.toString.call(answer)}`);
      }
    }
    expect(answers).toEqual([]);
  });
}
