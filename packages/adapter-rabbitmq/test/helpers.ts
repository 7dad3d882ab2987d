import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import {
  createRabbitMqDriver,
  type RabbitMqDriver,
  type RabbitMqDriverOptions,
  type RabbitMqQueueType,
} from '../src/index.js';

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

/** `url` with the driver options the URL registry reads (`queueType`). */
function withQueueType(url: string, queueType: RabbitMqQueueType): string {
  if (queueType === 'classic') return url;
  const parsed = new URL(url);
  parsed.searchParams.set('queueType', queueType);
  return parsed.toString();
}

/** How the conformance suite's crash workers (child processes) build this driver: the built package's `createDriver`. */
export function crashWorker(url: string, queueType: RabbitMqQueueType = 'classic') {
  return {
    module: new URL('../dist/index.js', import.meta.url).href,
    options: { url: withQueueType(url, queueType) },
  };
}

/** The conformance suite's pausable proxy in front of the broker: the same URL with the proxy's address. */
export function viaProxy(url: string, queueType: RabbitMqQueueType = 'classic') {
  const broker = new URL(url);
  return {
    target: { host: broker.hostname, port: Number(broker.port || 5672) },
    url(address: { readonly host: string; readonly port: number }): string {
      const proxied = new URL(withQueueType(url, queueType));
      proxied.hostname = address.host;
      proxied.port = String(address.port);
      return proxied.toString();
    },
  };
}
