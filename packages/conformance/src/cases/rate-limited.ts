import type { RateLimit } from '@queuekit/core';
import { type Harness, until } from '../harness.js';

/**
 * Send `jobs` jobs to a fresh queue under `rateLimit` and run them on two consumers of concurrency 5
 * sharing it: the start time of every job, sorted (the rate-limit cases of `workflows` and `workflow state`).
 */
export async function startsUnderRateLimit(
  h: Harness,
  rateLimit: RateLimit,
  jobs: number,
  timeoutMs: number,
): Promise<number[]> {
  const name = h.queueName();
  const producer = await h.queue<{ i: number }>(name, { rateLimit });
  const starts: number[] = [];
  for (let c = 0; c < 2; c++) {
    const consumer = await h.queue<{ i: number }>(name, { rateLimit });
    consumer.process(
      async () => {
        starts.push(Date.now());
      },
      { concurrency: 5 },
    );
  }
  await producer.sendBatch(Array.from({ length: jobs }, (_, i) => ({ name: 'limited', data: { i } })));
  await until(`${jobs} jobs`, h.timeout(timeoutMs), () => starts.length === jobs, 50);
  return [...starts].sort((a, b) => a - b);
}
