import { BrokerUnavailableError, createQueue } from '@queuekit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { rabbitmqctl } from './rabbitmqctl.js';
import { Resources, until, vhost } from './helpers.js';

const resources = new Resources();
afterEach(() => resources.cleanup());

describe.skipIf(!vhost)('reconnect', () => {
  it('rabbitmqctl close_all_connections while jobs flow: every accepted job is processed, none lost', async () => {
    const name = resources.queue('reconnect');
    const producerDriver = await resources.driver();
    const consumerDriver = await resources.driver();
    const producer = createQueue<{ i: number }>({ name, driver: producerDriver });
    const consumer = createQueue<{ i: number }>({ name, driver: consumerDriver });
    consumer.on('error', () => {
      // Acks of deliveries from the dropped channel fail with LockLostError; RabbitMQ redelivers them.
    });
    const processed = new Map<string, number>();
    consumer.process(
      async (job) => {
        processed.set(job.id, (processed.get(job.id) ?? 0) + 1);
        await new Promise((resolve) => setImmediate(resolve));
      },
      { concurrency: 5 },
    );
    const reconnected = Promise.all(
      [producerDriver, consumerDriver].map(
        (driver) =>
          new Promise<void>((resolve) => {
            driver.connection.on('connected', (generation) => {
              if (generation >= 2) resolve();
            });
          }),
      ),
    );

    const total = 400;
    const accepted: string[] = [];
    const refused: unknown[] = [];
    const sends: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      sends.push(
        producer.send('flow', { i }).then(
          (id) => {
            accepted.push(id);
          },
          (error: unknown) => {
            refused.push(error);
          },
        ),
      );
      if (i === 150) {
        await until('jobs flowing', 15_000, () => processed.size >= 50);
        await rabbitmqctl(['close_all_connections', '--vhost', vhost, 'queuekit reconnect test']);
      }
      if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await reconnected;
    await Promise.all(sends);

    // Sends never vanish: each one either resolved (then it must be processed) or failed with a typed error.
    expect(accepted.length + refused.length).toBe(total);
    for (const error of refused) expect(error).toBeInstanceOf(BrokerUnavailableError);
    await until('every accepted job processed', 60_000, () => accepted.every((id) => processed.has(id)));
    expect(accepted.length).toBeGreaterThan(total / 2);
    expect(producerDriver.connection.generation).toBeGreaterThanOrEqual(2);
    expect(consumerDriver.connection.generation).toBeGreaterThanOrEqual(2);
    await consumer.close();
  });

  it('a send while the broker is unreachable fails with BrokerUnavailableError, without the password', async () => {
    const { createRabbitMqDriver, RabbitMqDriver } = await import('../src/index.js');
    const secret = 's3cr3t-pw';
    const unreachable = `amqp://guest:${secret}@127.0.0.1:1/`;
    const error = await createRabbitMqDriver({ url: unreachable, unavailableTimeoutMs: 300 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect(String((error as Error).message)).not.toContain(secret);

    const lazy = new RabbitMqDriver({ url: unreachable, unavailableTimeoutMs: 300 });
    try {
      const sendError = await lazy
        .send('nowhere', [{ id: 'a', name: 'n', body: new Uint8Array([1]), headers: {} }])
        .catch((e: unknown) => e);
      expect(sendError).toBeInstanceOf(BrokerUnavailableError);
      expect((sendError as Error).message).not.toContain(secret);
    } finally {
      await lazy.close();
    }
  });
});
