import {
  ADAPTER_PACKAGES,
  AdapterNotInstalledError,
  type DriverFactory,
  registerScheme,
} from '@queuekit/core';

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/**
 * Import an adapter from the CLI's own dependencies. `import()` here resolves from this file, so the
 * adapters installed with the CLI are found in strict (pnpm) installs too.
 */
async function loadAdapter(packageName: string, scheme: string): Promise<DriverFactory> {
  let mod: { createDriver?: DriverFactory };
  try {
    mod = (await import(packageName)) as { createDriver?: DriverFactory };
  } catch (error) {
    if (isModuleNotFound(error)) throw new AdapterNotInstalledError(packageName, scheme, error);
    throw error;
  }
  if (typeof mod.createDriver !== 'function') {
    throw new AdapterNotInstalledError(packageName, scheme, new Error(`${packageName} has no createDriver`));
  }
  return mod.createDriver;
}

let registered = false;

/** Register a loader for every scheme the CLI ships an adapter for (once per process). */
export function registerAdapters(): void {
  if (registered) return;
  registered = true;
  for (const [scheme, packageName] of Object.entries(ADAPTER_PACKAGES)) {
    registerScheme(scheme, () => loadAdapter(packageName, scheme));
  }
}
