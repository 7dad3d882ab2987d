// The health indicator through @nestjs/terminus's HealthCheckService: up with each queue's stats when the
// broker answers, down (the check throws 503 with the details) when it fails or does not answer in time.
import 'reflect-metadata';
import { ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { BrokerUnavailableError, createMemoryDriver, type Queue } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { getQueueToken, QueuekitHealthIndicator, QueuekitModule } from '../src/index.js';
import { Modules, uniqueName } from './helpers.js';

const modules = new Modules();
afterEach(() => modules.closeAll());

async function healthApp(queues: Parameters<typeof QueuekitModule.registerQueue>) {
  const module = modules.track(
    await Test.createTestingModule({
      imports: [TerminusModule.forRoot({ logger: false }), QueuekitModule.registerQueue(...queues)],
    }).compile(),
  );
  await module.init();
  const health = module.get(HealthCheckService);
  const indicator = module.get(QueuekitHealthIndicator);
  return {
    module,
    check: (timeout?: number) => health.check([() => indicator.isHealthy('queues', { timeout })]),
  };
}

describe('QueuekitHealthIndicator', () => {
  it('is up, with the stats of every registered queue, when the brokers answer', async () => {
    const [a, b] = [uniqueName('nest-health-a'), uniqueName('nest-health-b')];
    const { module, check } = await healthApp([{ name: a }, { name: b }]);
    await module.get<Queue<number>>(getQueueToken(a)).send('n', 1);
    const result = await check();
    expect(result.status).toBe('ok');
    expect(result.details.queues).toEqual({
      status: 'up',
      queues: {
        [a]: expect.objectContaining({ status: 'up', waiting: 1 }),
        [b]: expect.objectContaining({ status: 'up' }),
      },
    });
  });

  it('is down, naming the error code, when a broker fails; the healthy queue stays up', async () => {
    const [healthy, broken] = [uniqueName('nest-health-ok'), uniqueName('nest-health-broken')];
    const driver = createMemoryDriver();
    driver.stats = async () => {
      throw new BrokerUnavailableError('broker unreachable');
    };
    const { check } = await healthApp([{ name: healthy }, { name: broken, driver }]);
    const error = await check().catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(ServiceUnavailableException);
    const body = (error as ServiceUnavailableException).getResponse() as { details: Record<string, unknown> };
    expect(body.details.queues).toEqual({
      status: 'down',
      queues: {
        [healthy]: expect.objectContaining({ status: 'up' }),
        [broken]: { status: 'down', error: 'ERR_BROKER_UNAVAILABLE' },
      },
    });
  });

  it('is down when a broker does not answer within the timeout', async () => {
    const name = uniqueName('nest-health-hung');
    const driver = createMemoryDriver();
    driver.stats = () => new Promise(() => {});
    const { check } = await healthApp([{ name, driver }]);
    const error = await check(50).catch((thrown: unknown) => thrown);
    const body = (error as ServiceUnavailableException).getResponse() as { details: Record<string, unknown> };
    expect(body.details.queues).toEqual({
      status: 'down',
      queues: { [name]: { status: 'down', error: 'stats() did not answer within 50 ms' } },
    });
  });

  it('is down for a queue name it was asked about that is not registered', async () => {
    const { module } = await healthApp([{ name: uniqueName('nest-health-known') }]);
    const result = await module.get(QueuekitHealthIndicator).isHealthy('queues', { queues: ['missing'] });
    expect(result.queues).toEqual({
      status: 'down',
      queues: { missing: { status: 'down', error: 'no queue "missing" is registered' } },
    });
  });
});
