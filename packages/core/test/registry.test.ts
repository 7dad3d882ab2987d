import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  createQueue,
  driverFromUrl,
  MemoryDriver,
  registerScheme,
  schemeOf,
  UnknownSchemeError,
} from '../src/index.js';

describe('URL registry', () => {
  it('maps schemes, including Service Bus connection strings', () => {
    expect(schemeOf('memory://')).toBe('memory');
    expect(schemeOf('rediss://h:6380')).toBe('rediss');
    expect(schemeOf('Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=b')).toBe(
      'servicebus',
    );
    expect(() => schemeOf('not a url')).toThrow(ConfigError);
  });

  it('creates the memory driver without any adapter', async () => {
    const driver = await driverFromUrl('memory://registry-test');
    expect(driver).toBeInstanceOf(MemoryDriver);
    await driver.close();
  });

  it('names the package to install when an adapter is missing', () => {
    // A real process outside the workspace: neither core, nor the entry script, nor the cwd can see the SQS
    // adapter. Inside vitest the workspace may resolve it, and the case would then prove nothing.
    const core = new URL('../dist/index.js', import.meta.url).href;
    const script = `import { driverFromUrl } from ${JSON.stringify(core)};
      const error = await driverFromUrl('sqs://jobs?region=eu-west-1').catch((e) => e);
      console.log(JSON.stringify({ name: error?.name, code: error?.code, message: error?.message, provider: error?.provider }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: tmpdir(),
      // Not vitest's environment: it lets the workspace resolve every package.
      env: { PATH: process.env.PATH ?? '' },
      encoding: 'utf8',
    });
    const error = JSON.parse(out.trim()) as { name?: string; code?: string; message?: string };
    expect(error).toMatchObject({ code: 'ERR_ADAPTER_NOT_INSTALLED' });
    expect(error.message).toContain('npm install @queuekit/adapter-sqs');
  });

  it('lets users register their own scheme', async () => {
    registerScheme('custom', async () => () => new MemoryDriver({ url: 'memory://custom' }));
    const driver = await driverFromUrl('custom://anything');
    expect(driver.provider).toBe('memory');
    await driver.close();
  });

  it('rejects unknown schemes with a typed error', async () => {
    await expect(driverFromUrl('kafka://broker:9092')).rejects.toBeInstanceOf(UnknownSchemeError);
  });

  it('surfaces a failing adapter load on the first operation, never leaking the password', async () => {
    const queue = createQueue({ name: 'jobs', url: 'gopher://user:Sentinel-Secret@host' });
    const error = await queue.send('x', null).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownSchemeError);
    expect(String((error as Error).message)).not.toContain('Sentinel-Secret');
  });
});

describe('adapter resolution from the application', () => {
  it('loads an import-only adapter installed next to the app but invisible to core (strict installs)', () => {
    // A real process: core's own lookup fails, the app's (its entry script's) finds the fixture adapter.
    const entry = fileURLToPath(new URL('./fixtures/app/main.mjs', import.meta.url));
    const out = execFileSync(process.execPath, [entry], { encoding: 'utf8' });
    expect(out.trim()).toBe('memory');
  });
});
