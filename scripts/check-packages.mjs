#!/usr/bin/env node
// `pnpm check:packages`: publint and Are the Types Wrong on every publishable package, as packed.
// The package.json script builds first (both tools inspect dist/). Exits non-zero when either tool reports a problem.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);

export function publishablePackages() {
  const dir = join(root, 'packages');
  return readdirSync(dir)
    .map((name) => join(dir, name))
    .filter((path) => {
      try {
        return JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')).private !== true;
      } catch {
        return false;
      }
    });
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

// tsc never deletes output, so a module removed from src/ would still ship from an old dist/.
export function staleOutputs(path) {
  const dist = join(path, 'dist');
  return walk(dist)
    .filter((file) => file.endsWith('.js'))
    .map((file) => relative(dist, file).replace(/\.js$/, ''))
    .filter((module) => !existsSync(join(path, 'src', `${module}.ts`)));
}

function run(command, args, cwd) {
  const result = spawnSync(command, args, {
    cwd,
    stdio: 'inherit',
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  return result.status === 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const failed = [];
  for (const path of publishablePackages()) {
    const name = JSON.parse(readFileSync(join(path, 'package.json'), 'utf8')).name;
    const stale = staleOutputs(path);
    if (stale.length > 0)
      failed.push(`${name}: dist/ has output of no src/ module (${stale.join(', ')}); delete dist and build`);
    if (!run(bin('publint'), ['--strict'], path)) failed.push(`${name}: publint`);
    if (!run(bin('attw'), ['--pack', '.', '--format', 'table-flipped'], path)) failed.push(`${name}: attw`);
  }
  if (failed.length > 0) {
    console.error(`\npackage checks failed:\n  ${failed.join('\n  ')}`);
    process.exit(1);
  }
  console.log('\nevery publishable package passes publint and attw');
}
