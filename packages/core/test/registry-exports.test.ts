import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('adapter resolution from the application, nested export conditions', () => {
  it('loads an adapter whose exports nest types/default under import and require', () => {
    // A real process: core's own lookup fails, the app's finds the fixture adapter through `import.default`.
    const entry = fileURLToPath(new URL('./fixtures/app-nested/main.mjs', import.meta.url));
    const out = execFileSync(process.execPath, [entry], { encoding: 'utf8' });
    expect(out.trim()).toBe('memory');
  });
});
