import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const doc = readFileSync(join(root, 'docs', 'architecture.md'), 'utf8');

/** Rows of the "Where each behaviour lives" table: behaviour → the paths its file cell names. */
function behaviourTable(): Map<string, string[]> {
  const section = doc.split('## Where each behaviour lives')[1]?.split('\n## ')[0] ?? '';
  const rows = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const [behaviour, file] = [cells[1], cells[2]];
    if (!behaviour || !file || behaviour === 'behaviour' || /^-+$/.test(behaviour)) continue;
    rows.set(
      behaviour,
      [...file.matchAll(/`([^`]+)`/g)].map((match) => match[1] as string),
    );
  }
  return rows;
}

describe('docs/architecture.md', () => {
  const table = behaviourTable();

  it('answers each question the issue asks with exactly one file', () => {
    for (const behaviour of [
      'retry decision',
      'delay hops',
      'priority emulation',
      'settle-once',
      'attempt counting',
      'dead-lettering',
      'heartbeat',
      'rate limits',
      'fan-out',
      'schedules',
      'job records',
      'error classification',
      'redaction',
    ]) {
      expect(table.get(behaviour), behaviour).toHaveLength(1);
    }
  });

  it('names only files that exist', () => {
    expect(table.size).toBeGreaterThan(10);
    for (const [behaviour, paths] of table) {
      expect(paths, behaviour).toHaveLength(1);
      for (const path of paths) expect(existsSync(join(root, path)), `${behaviour}: ${path}`).toBe(true);
    }
  });

  it('lays out folders that exist', () => {
    const layout = doc.split('## Layout of `packages/core/src`')[1]?.split('\n## ')[0] ?? '';
    const folders = [...layout.matchAll(/^\| `([\w-]+\/)`/gm)].map((match) => match[1] as string);
    expect(folders.length).toBeGreaterThan(5);
    for (const folder of folders)
      expect(existsSync(join(root, 'packages/core/src', folder)), folder).toBe(true);
  });
});
