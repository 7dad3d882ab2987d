import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('../import.mjs', import.meta.url));
const run = promisify(execFile);

/** Totals computed independently of the example, from the same deterministic rows. */
function expected(rows: number) {
  const regions = ['north', 'south', 'east', 'west'];
  const byRegion: Record<string, number> = {};
  for (let i = 1; i <= rows; i++) {
    const region = regions[i % regions.length] as string;
    byRegion[region] = (byRegion[region] ?? 0) + ((i * 7919) % 100_000);
  }
  return byRegion;
}

describe('csv-import example', () => {
  it('reduces 100,000 rows in 50 chunks to one summary (memory)', async () => {
    const { stdout } = await run(process.execPath, [script], {
      env: { ...process.env, QUEUE_URL: 'memory://csv' },
    });
    const summary = JSON.parse(stdout) as {
      rows: number;
      invalid: number;
      chunks: number;
      failedChunks: unknown[];
      byRegion: Record<string, number>;
    };
    expect(summary).toMatchObject({ rows: 100_000, invalid: 0, chunks: 50, failedChunks: [] });
    expect(summary.byRegion).toEqual(expected(100_000));
  });

  it('does the same through Redis (BullMQ) when the adapter is present', async () => {
    const { stdout } = await run(process.execPath, [script, '20000', '1000'], {
      env: { ...process.env, QUEUE_URL: 'redis://127.0.0.1:6379' },
    });
    const summary = JSON.parse(stdout) as { rows: number; chunks: number; byRegion: Record<string, number> };
    expect(summary).toMatchObject({ rows: 20_000, chunks: 20 });
    expect(summary.byRegion).toEqual(expected(20_000));
  });
});
