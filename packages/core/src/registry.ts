import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Driver, DriverFactory } from './driver.js';
import { AdapterNotInstalledError, ConfigError, UnknownSchemeError } from './errors.js';
import { createMemoryDriver } from './memory/driver.js';

type Loader = () => Promise<DriverFactory>;

/** The adapter package behind each URL scheme (tools that bundle adapters register loaders from it). */
export const ADAPTER_PACKAGES: Readonly<Record<string, string>> = {
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

/**
 * The URL scheme, with Service Bus connection strings mapped to `servicebus`: `key=value;` pairs with an
 * `Endpoint=sb://` among them, in any order (Azure accepts any order and case).
 */
export function schemeOf(url: string): string {
  if (/(?:^|;)\s*Endpoint\s*=\s*sb:\/\//i.test(url)) return 'servicebus';
  const match = /^([a-z][a-z0-9+.-]*):/i.exec(url.trim());
  if (!match?.[1])
    throw new ConfigError('url', 'expected a URL such as memory://, redis://host:6379 or amqp://host');
  return match[1].toLowerCase();
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return (
    code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED'
  );
}

/**
 * Import an adapter by name. From core's own location first (flat installs), then from the
 * application's: its entry script and the working directory (strict installs such as pnpm,
 * where core cannot see packages it does not depend on).
 */
async function importFromApp(packageName: string): Promise<{ createDriver?: DriverFactory }> {
  try {
    return (await import(packageName)) as { createDriver?: DriverFactory };
  } catch (error) {
    if (!isNotFound(error)) throw error;
    const bases = [process.argv[1], join(process.cwd(), 'index.js')].filter((base): base is string =>
      Boolean(base),
    );
    for (const base of bases) {
      let resolved: string;
      try {
        resolved = esmEntryFrom(createRequire(base), packageName);
      } catch {
        continue;
      }
      return (await import(pathToFileURL(resolved).href)) as { createDriver?: DriverFactory };
    }
    throw error;
  }
}

/** The ESM entry of `packageName` as seen from `req`'s base (`require.resolve` ignores `import` conditions). */
function esmEntryFrom(req: NodeJS.Require, packageName: string): string {
  // Not `req.resolve(name + '/package.json')`: packages need not export their manifest.
  const manifestPath = (req.resolve.paths(packageName) ?? [])
    .map((dir) => join(dir, packageName, 'package.json'))
    .find((candidate) => existsSync(candidate));
  if (!manifestPath)
    throw Object.assign(new Error(`Cannot find ${packageName}`), { code: 'MODULE_NOT_FOUND' });
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    exports?: string | Record<string, unknown>;
    main?: string;
  };
  const exports = manifest.exports;
  const dot = typeof exports === 'object' && exports !== null && '.' in exports ? exports['.'] : exports;
  return join(dirname(manifestPath), importTarget(dot) ?? manifest.main ?? 'index.js');
}

const IMPORT_CONDITIONS = ['import', 'node', 'default'] as const;

/** The file an `exports` target resolves to under ESM `import`, through nested condition objects. */
function importTarget(target: unknown): string | undefined {
  if (typeof target === 'string') return target;
  if (Array.isArray(target)) {
    for (const candidate of target) {
      const found = importTarget(candidate);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof target !== 'object' || target === null) return undefined;
  const conditions = target as Record<string, unknown>;
  for (const condition of IMPORT_CONDITIONS) {
    const found = importTarget(conditions[condition]);
    if (found) return found;
  }
  return undefined;
}

async function importAdapter(packageName: string, scheme: string): Promise<DriverFactory> {
  let mod: { createDriver?: DriverFactory };
  try {
    mod = await importFromApp(packageName);
  } catch (error) {
    if (isNotFound(error)) throw new AdapterNotInstalledError(packageName, scheme, error);
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
  const packageName = ADAPTER_PACKAGES[scheme];
  if (!packageName) throw new UnknownSchemeError(scheme);
  const factory = await importAdapter(packageName, scheme);
  return factory({ url });
}
