import { describe, expect, it } from 'vitest';
import {
  BrokerUnavailableError,
  createMemoryDriver,
  createQueue,
  type Driver,
  MemoryBroker,
  registerScheme,
} from '../src/index.js';
import { until } from './helpers.js';

describe('a consumer started while the broker is down', () => {
  it('keeps trying to connect, reporting errors, and consumes once the broker is back', async () => {
    const broker = new MemoryBroker();
    let refusals = 2;
    registerScheme('qkdown', async () => () => {
      if (refusals-- > 0) throw new BrokerUnavailableError('connection refused');
      return createMemoryDriver({ broker });
    });
    const producer = createQueue({ name: 'outage', driver: createMemoryDriver({ broker }) });
    await producer.send('x', { n: 1 });
    const queue = createQueue({ name: 'outage', url: 'qkdown://somewhere' });
    const errors: Error[] = [];
    queue.on('error', (error) => errors.push(error));
    const done: unknown[] = [];
    queue.process(async (job) => {
      done.push(job.data);
    });
    await until(() => done.length === 1, 'the job to be consumed after the outage');
    expect(done).toEqual([{ n: 1 }]);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors.every((e) => e instanceof BrokerUnavailableError)).toBe(true);
    await queue.close();
    await producer.close();
  });

  it('retries a failed native rate-limit set-up instead of giving up', async () => {
    const broker = new MemoryBroker();
    const inner = createMemoryDriver({ broker });
    let refusals = 1;
    const driver: Driver = Object.assign(Object.create(inner) as Driver, {
      workflows: {
        ...inner.workflows,
        setRateLimit: async () => {
          if (refusals-- > 0) throw new BrokerUnavailableError('not yet');
        },
      },
    });
    const queue = createQueue({ name: 'limited', driver, rateLimit: { max: 100, duration: 1000 } });
    const errors: Error[] = [];
    queue.on('error', (error) => errors.push(error));
    const done: unknown[] = [];
    queue.process(async (job) => {
      done.push(job.data);
    });
    await queue.send('x', 1);
    await until(() => done.length === 1, 'the job to be consumed after the set-up failed once');
    expect(errors.map((e) => e.message)).toEqual(['not yet']);
    await queue.close();
  });
});
