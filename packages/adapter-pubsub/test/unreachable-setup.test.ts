import { BrokerUnavailableError, createQueue } from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import { makeDriver, uniqueName } from './helpers.js';

// A queue's first use creates (or looks up) its topics and subscriptions. Those admin calls ran on the client's
// defaults (retries for 60 s and more), so a first send or receive against an unreachable Pub/Sub hung for
// minutes instead of failing typed, like a publish does, within its call bound.
describe('queue setup against an unreachable Pub/Sub', () => {
  it('fails with BrokerUnavailableError within the call bound', async () => {
    // Port 1 on loopback: nothing listens, every connection is refused.
    const driver = makeDriver({ clientConfig: { apiEndpoint: '127.0.0.1:1' } });
    const queue = createQueue({ name: uniqueName('unreachable'), driver });
    const started = Date.now();
    const error = await queue.send('x', { n: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect(Date.now() - started).toBeLessThan(50_000); // the setup's 30 s bound (63 s before)
    await queue.close();
  }, 90_000);
});
