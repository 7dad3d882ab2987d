import type { Driver, DriverFactory } from './driver.js';
import { AdapterNotInstalledError, ConfigError, UnknownSchemeError } from './errors.js';
import { createMemoryDriver } from './memory/driver.js';

type Loader = () => Promise<DriverFactory>;

const packageForScheme: Record<string, string> = {
  redis: '@queuekit/adapter-bullmq',
  rediss: '@queuekit/adapter-bullmq',
  amqp: '@queuekit/adapter-rabbitmq',
  amqps: '@queuekit/adapter-rabbitmq',
  sqs: '@queuekit/adapter-sqs',
  pubsub: '@queuekit/adapter-pubsub',
  servicebus: '@queuekit/adapter-servicebus',
};

const loaders = new Map<string, Loader>([['memory', async () => (options) => createMemoryDriver(options)]]);

/** Register (or replace) the driver factory for a URL scheme, e.g. `registerScheme('nats', ...)`. */
export function registerScheme(scheme: string, loader: Loader): void {
  loaders.set(scheme.toLowerCase(), loader);
}

/** The URL scheme, with Service Bus connection strings (`Endpoint=sb://...`) mapped to `servicebus`. */
export function schemeOf(url: string): string {
  if (/^\s*Endpoint=sb:\/\//i.test(url)) return 'servicebus';
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(url.trim());
  if (!match?.[1])
    throw new ConfigError('url', 'expected a URL such as memory://, redis://host:6379 or amqp://host');
  return match[1].toLowerCase();
}

async function importAdapter(packageName: string, scheme: string): Promise<DriverFactory> {
  let mod: { createDriver?: DriverFactory };
  try {
    mod = (await import(packageName)) as { createDriver?: DriverFactory };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new AdapterNotInstalledError(packageName, scheme, error);
    }
    throw error;
  }
  if (typeof mod.createDriver !== 'function') {
    throw new AdapterNotInstalledError(
      packageName,
      scheme,
      new Error(`${packageName} has no createDriver export`),
    );
  }
  return mod.createDriver;
}

/** Create the driver for a queue URL, loading its adapter package on demand. */
export async function driverFromUrl(url: string): Promise<Driver> {
  const scheme = schemeOf(url);
  const loader = loaders.get(scheme);
  if (loader) return (await loader())({ url });
  const packageName = packageForScheme[scheme];
  if (!packageName) throw new UnknownSchemeError(scheme);
  const factory = await importAdapter(packageName, scheme);
  return factory({ url });
}
