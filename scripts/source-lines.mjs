#!/usr/bin/env node
// Source lines of TypeScript under each directory given: lines holding code, not blank and not only comment
// (the count cloc calls "code"). Usage: node scripts/source-lines.mjs packages/adapter-sqs/src [more dirs]
// With --files, one line per file as well.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Lines of `text` that hold at least one character outside comments and whitespace. */
export function codeLines(text) {
  let count = 0;
  let lineHasCode = false;
  let state = 'code'; // code | line-comment | block-comment | ' | " | `
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '\n') {
      if (lineHasCode) count++;
      lineHasCode = false;
      if (state === 'line-comment') state = 'code';
      continue;
    }
    if (state === 'line-comment') continue;
    if (state === 'block-comment') {
      if (c === '*' && next === '/') {
        state = 'code';
        i++;
      }
      continue;
    }
    if (state === "'" || state === '"' || state === '`') {
      lineHasCode = true;
      if (c === '\\') i++;
      else if (c === state) state = 'code';
      continue;
    }
    if (c === '/' && next === '/') {
      state = 'line-comment';
      i++;
    } else if (c === '/' && next === '*') {
      state = 'block-comment';
      i++;
    } else if (c === "'" || c === '"' || c === '`') {
      state = c;
      lineHasCode = true;
    } else if (c !== ' ' && c !== '\t' && c !== '\r') {
      lineHasCode = true;
    }
  }
  return lineHasCode ? count + 1 : count;
}

function* typeScriptFiles(dir) {
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* typeScriptFiles(path);
    else if (path.endsWith('.ts') && !path.endsWith('.d.ts')) yield path;
  }
}

const args = process.argv.slice(2);
const perFile = args.includes('--files');
for (const dir of args.filter((arg) => arg !== '--files')) {
  let total = 0;
  for (const file of typeScriptFiles(dir)) {
    const lines = codeLines(readFileSync(file, 'utf8'));
    total += lines;
    if (perFile) console.log(`${String(lines).padStart(6)}  ${file}`);
  }
  console.log(`${String(total).padStart(6)}  ${dir}`);
}
