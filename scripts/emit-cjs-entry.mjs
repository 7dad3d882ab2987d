#!/usr/bin/env node
// Run from a package directory after `tsc`: gives CommonJS consumers an entry point without a second
// build. dist/index.cjs hands `require()` the one ESM module graph (Node 20.19+ loads ES modules
// from require), so CommonJS and ESM callers share one copy of every module: one default store,
// one adapter registry, one QueuekitError class for `instanceof`. The .d.cts copies of the .d.ts
// files let TypeScript type that entry under "module": "node16" in CommonJS projects, where it
// refuses (TS1479) to let a CommonJS file import ESM declarations.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dist = join(process.cwd(), 'dist');
const DECLARATION = /\.d\.ts$/;
// `from './x.js'`, `import('./x.js')`, `export * from "../y/index.js"`: relative specifiers only.
const RELATIVE_JS = /((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*?)\.js\2/g;

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

export function toCommonJsDeclaration(text) {
  return text
    .replace(RELATIVE_JS, (_match, lead, quote, path) => `${lead}${quote}${path}.cjs${quote}`)
    .replace(/^\/\/# sourceMappingURL=.*$/m, '');
}

const files = walk(dist);
for (const file of files) if (file.endsWith('.d.cts')) rmSync(file);
let count = 0;
for (const file of files) {
  if (!DECLARATION.test(file)) continue;
  writeFileSync(file.replace(DECLARATION, '.d.cts'), toCommonJsDeclaration(readFileSync(file, 'utf8')));
  count += 1;
}
// Further entries (subpath exports) are named as arguments, relative to dist/ without extension:
// `emit-cjs-entry.mjs driver-kit/index` writes dist/driver-kit/index.cjs.
for (const entry of ['index', ...process.argv.slice(2)]) {
  const base = entry.slice(entry.lastIndexOf('/') + 1);
  writeFileSync(join(dist, `${entry}.cjs`), `'use strict';\nmodule.exports = require('./${base}.js');\n`);
}
if (count === 0) throw new Error(`no declarations under ${dist}: run tsc first`);
