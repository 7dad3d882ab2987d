import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { createRabbitMqDriver, type RabbitMqDriver, type RabbitMqDriverOptions } from '../src/index.js';

/** URL of this run's vhost (see global-setup.ts). */
export const url = inject('amqpUrl');
/** This run's vhost, or '' when the suite targets an external broker (no rabbitmqctl). */
export const vhost = inject('amqpVhost');

/** A queue name unique to this test. */
export function queueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Drivers and queues made by one test, closed and deleted by `cleanup`. */
export class Resources {
  private readonly drivers: RabbitMqDriver[] = [];
  private readonly queues: string[] = [];

  async driver(options: Partial<RabbitMqDriverOptions> = {}): Promise<RabbitMqDriver> {
    const driver = await createRabbitMqDriver({ url, ...options });
    this.drivers.push(driver);
    return driver;
  }

  queue(prefix: string): string {
    const name = queueName(prefix);
    this.queues.push(name);
    return name;
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.drivers.splice(0).map((driver) => driver.close()));
    const admin = await createRabbitMqDriver({ url });
    try {
      for (const queue of this.queues.splice(0)) await admin.deleteQueue(queue);
    } finally {
      await admin.close();
    }
  }
}

/** Poll `check` until truthy or `timeoutMs` passes. */
export async function until<R>(
  what: string,
  timeoutMs: number,
  check: () => R | Promise<R>,
): Promise<NonNullable<R>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<R>;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
