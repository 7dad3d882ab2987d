import { describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue, MemoryBroker } from '../src/index.js';
import { hangUntilAborted, until } from './helpers.js';

/** A memory driver that reports deliveries the way RabbitMQ classic queues do: 1, then always 2. */
const flagDriver = (broker: MemoryBroker) =>
  createMemoryDriver({ broker, limitCapabilities: { deliveryCount: 'flag' } });

describe('brokers that only flag redelivery (deliveryCount: flag)', () => {
  it('a crash loop runs attempts 1..maxAttempts, then dead-letters once', async () => {
    const broker = new MemoryBroker();
    const attempts: number[] = [];
    const deadLetters: { reason: string }[] = [];
    const producer = createQueue({ name: 'crashy', driver: flagDriver(broker), ownsDriver: true });
    await producer.send('boom', null, { maxAttempts: 2 });
    await producer.close();
    // Each worker "crashes": it is force-closed mid-job, leaving the job locked until its lock runs out.
    for (let worker = 0; worker < 6; worker++) {
      const queue = createQueue({ name: 'crashy', driver: flagDriver(broker), ownsDriver: true });
      const outcome = new Promise<'active' | 'dead'>((resolve) => {
        queue.on('active', (job) => {
          attempts.push(job.attempt);
          resolve('active');
        });
        queue.on('dead-lettered', (info) => {
          deadLetters.push(info);
          resolve('dead');
        });
      });
      queue.process((_job, ctx) => hangUntilAborted(ctx.signal), { lockDuration: 100 });
      const result = await outcome;
      await queue.close({ timeout: 1 });
      if (result === 'dead') break;
    }
    expect(attempts).toEqual([1, 2]);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]?.reason).toBe('max-attempts');
    expect(broker.counts('crashy')).toMatchObject({ waiting: 0, active: 0, delayed: 0, deadLettered: 1 });
  });

  it('a handler that always throws is retried up to maxAttempts, then dead-lettered once', async () => {
    const broker = new MemoryBroker();
    const queue = createQueue({ name: 'throws', driver: flagDriver(broker), ownsDriver: true });
    const attempts: number[] = [];
    const deadLetters: string[] = [];
    queue.on('dead-lettered', (info) => deadLetters.push(info.reason));
    queue.process(async (job) => {
      attempts.push(job.attempt);
      throw new Error('always');
    });
    await queue.send('x', null, { maxAttempts: 3, backoff: { type: 'fixed', delay: 20 } });
    await until(() => deadLetters.length > 0 || attempts.length > 6, 'a dead letter');
    await until(() => broker.counts('throws').active === 0, 'the dead letter to settle');
    expect(attempts).toEqual([1, 2, 3]);
    expect(deadLetters).toEqual(['max-attempts']);
    expect(broker.counts('throws')).toMatchObject({ waiting: 0, delayed: 0, deadLettered: 1 });
    await queue.close();
  });
});
