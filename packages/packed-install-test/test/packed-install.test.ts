// What a new user gets: every publishable package packed with `pnpm pack`, the tarballs installed with
// npm into a fresh project outside the workspace (third-party dependencies from the npm registry),
// then used from ESM, from CommonJS, from a TypeScript CommonJS project and through `npx queuekit`.
// A workspace install hides missing `files`, wrong `exports` and undeclared dependencies; this does not.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', 'fixtures');
const packagesDir = join(here, '..', '..');
const REDIS_URL = process.env.QUEUEKIT_REDIS_URL ?? 'redis://127.0.0.1:6379';
const URLS = ['memory://', REDIS_URL];
const NEST_DEPENDENCIES = {
  '@nestjs/common': '^11.1.0',
  '@nestjs/core': '^11.1.0',
  'reflect-metadata': '^0.2.2',
  rxjs: '^7.8.2',
};

// Child processes must not inherit pnpm's npm_config_* settings (npm warns or obeys them).
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^(npm_|pnpm_)/i.test(key) && key !== 'NODE_OPTIONS'),
);

function publishable(): { name: string; dir: string }[] {
  return readdirSync(packagesDir)
    .map((entry) => join(packagesDir, entry))
    .flatMap((dir) => {
      try {
        const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
          name: string;
          private?: boolean;
        };
        return manifest.private === true ? [] : [{ name: manifest.name, dir }];
      } catch {
        return [];
      }
    });
}

async function inApp(command: string, args: string[], cwd: string) {
  return run(command, args, { cwd, env: cleanEnv, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 });
}

let root = '';
let app = '';
let nest12 = '';
const packed = new Map<string, string>();

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'queuekit-packed-'));
  const tarballs = join(root, 'tarballs');
  app = join(root, 'app');
  mkdirSync(tarballs);
  mkdirSync(app);
  for (const { name, dir } of publishable()) {
    const before = new Set(readdirSync(tarballs));
    await run('pnpm', ['pack', '--pack-destination', tarballs], { cwd: dir, timeout: 60_000 });
    const created = readdirSync(tarballs).filter((file) => !before.has(file));
    expect(created, `pnpm pack of ${name}`).toHaveLength(1);
    packed.set(name, join(tarballs, created[0] as string));
  }
  const dependencies = Object.fromEntries([...packed].map(([name, file]) => [name, `file:${file}`]));
  // No "type": the project is CommonJS, as most Node applications (and every NestJS one) are.
  writeFileSync(
    join(app, 'package.json'),
    `${JSON.stringify(
      {
        name: 'packed-install-app',
        private: true,
        version: '0.0.0',
        // Nest 11, the major most Nest applications run, compiled to CommonJS; Nest 12 gets a project below.
        dependencies: { ...dependencies, ...NEST_DEPENDENCIES },
        // ioredis 6.1.0's own .d.ts files import redis-errors, which ships no types: a project type-checking its
        // libraries (no skipLibCheck) needs @types/redis-errors, whatever uses ioredis.
        devDependencies: { typescript: '5.9.3', '@types/node': '^20.19.0', '@types/redis-errors': '^1.2.3' },
      },
      null,
      2,
    )}\n`,
  );
  for (const file of ['round-trip.cjs', 'round-trip.mjs']) cpSync(join(fixtures, file), join(app, file));
  cpSync(join(fixtures, 'ts-cjs'), app, { recursive: true });
  cpSync(join(fixtures, 'nest-cjs'), join(app, 'nest-cjs'), { recursive: true });
  // Nest 12 (ESM-only; a CommonJS application loads it through require of ES modules) in a project of its own.
  nest12 = join(root, 'nest12');
  mkdirSync(nest12);
  const nestPackages = ['@queuekit/core', '@queuekit/adapter-bullmq', '@queuekit/nestjs'];
  writeFileSync(
    join(nest12, 'package.json'),
    `${JSON.stringify(
      {
        name: 'packed-install-nest12',
        private: true,
        version: '0.0.0',
        dependencies: {
          ...Object.fromEntries(nestPackages.map((name) => [name, `file:${packed.get(name)}`])),
          ...NEST_DEPENDENCIES,
          '@nestjs/common': '^12.0.0',
          '@nestjs/core': '^12.0.0',
        },
        devDependencies: { '@types/node': '^20.19.0' },
      },
      null,
      2,
    )}\n`,
  );
  cpSync(join(fixtures, 'nest-cjs'), join(nest12, 'nest-cjs'), { recursive: true });
  const install = ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];
  await Promise.all([inApp('npm', install, app), inApp('npm', install, nest12)]);
}, 180_000);

afterAll(() => {
  if (root !== '') rmSync(root, { recursive: true, force: true });
});

describe('packed tarballs installed with npm into a fresh project', () => {
  it('ship LICENSE, README and dist, and no tests or sources', async () => {
    for (const [name, file] of packed) {
      const { stdout } = await run('tar', ['-tzf', file]);
      const entries = stdout.split('\n').filter(Boolean);
      expect(entries, name).toContain('package/LICENSE');
      expect(entries, name).toContain('package/README.md');
      expect(entries, name).toContain('package/dist/index.cjs');
      expect(entries, name).toContain('package/dist/index.d.cts');
      expect(
        entries.filter((entry) => /^package\/(src|test)\/|\.test\.[cm]?[jt]s$/.test(entry)),
        name,
      ).toEqual([]);
    }
  });

  it('an ES module script sends and processes a job on memory:// and redis://', async () => {
    const { stdout } = await inApp(process.execPath, ['round-trip.mjs', ...URLS], app);
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, names: expect.any(Array) });
  });

  it('a CommonJS script require()s the packages and sends and processes a job on memory:// and redis://', async () => {
    const { stdout } = await inApp(process.execPath, ['round-trip.cjs', ...URLS], app);
    const result = JSON.parse(stdout) as { ok: boolean; names: string[] };
    expect(result.ok).toBe(true);
    expect(result.names).toHaveLength(2);
  });

  it('TypeScript (module node16) types the packages in a CommonJS project, from .ts and .mts files', async () => {
    // TypeScript 5 (what most projects run) from the app, and the workspace's own TypeScript 7.
    const tsc5 = join(app, 'node_modules', 'typescript', 'bin', 'tsc');
    await expect(inApp(process.execPath, [tsc5, '--noEmit', '-p', '.'], app)).resolves.toBeDefined();
    const tsc7 = join(packagesDir, '..', 'node_modules', '.bin', 'tsc');
    await expect(inApp(tsc7, ['--noEmit', '-p', '.'], app)).resolves.toBeDefined();
  });

  it.each([
    ['11', () => app],
    ['12', () => nest12],
  ])(
    'a fresh CommonJS Nest %s project, compiled by tsc, processes a job through @queuekit/nestjs on memory:// and redis://',
    async (_major, projectOf) => {
      const project = projectOf();
      const tsc5 = join(app, 'node_modules', 'typescript', 'bin', 'tsc');
      await inApp(process.execPath, [tsc5, '-p', 'nest-cjs'], project);
      const compiled = readFileSync(join(project, 'nest-cjs', 'dist', 'main.js'), 'utf8');
      expect(compiled).toContain('require("@queuekit/nestjs")');
      expect(compiled).toContain('design:paramtypes');
      for (const url of URLS) {
        const { stdout } = await inApp(process.execPath, [join('nest-cjs', 'dist', 'main.js'), url], project);
        expect(JSON.parse(stdout), url).toMatchObject({
          ok: true,
          result: 'welcome ada@example.com',
          commonjs: true,
        });
      }
    },
  );

  it('npx queuekit stats reads the Redis queue the CommonJS script used', async () => {
    const { stdout: sent } = await inApp(process.execPath, ['round-trip.cjs', REDIS_URL], app);
    const [name] = (JSON.parse(sent) as { names: string[] }).names;
    const { stdout } = await inApp(
      'npx',
      ['--no-install', 'queuekit', 'stats', name as string, '--url', REDIS_URL, '--json'],
      app,
    );
    const report = JSON.parse(stdout) as { queues: { name?: string; queue?: string; waiting: number }[] };
    expect(report.queues).toHaveLength(1);
    expect(report.queues[0]?.waiting).toBe(0);
  });
});
