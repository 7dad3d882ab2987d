// Map/reduce over a CSV: split the rows into chunk jobs (queue.fanOut), let workers process chunks in
// parallel, and receive one reduce job with every chunk's result when the last chunk finishes.
// In memory by default; any broker with QUEUE_URL. Usage: node import.mjs [rows] [chunkSize]
import { createQueue, redactUrl } from '@queuekit/core';

const url = process.env.QUEUE_URL || 'memory://csv-import';
const rows = Number(process.argv[2] ?? 100_000);
const chunkSize = Number(process.argv[3] ?? 2_000);
const run = `${Date.now().toString(36)}`;
const regions = ['north', 'south', 'east', 'west'];

/** A deterministic CSV (header + `count` rows): id,region,amount_cents. */
function makeCsv(count) {
  const lines = ['id,region,amount_cents'];
  for (let i = 1; i <= count; i++) lines.push(`${i},${regions[i % regions.length]},${(i * 7919) % 100_000}`);
  return lines.join('\n');
}

/** Parse one chunk of CSV lines and total it per region; bad lines are counted, not fatal. */
function summarise(lines) {
  const byRegion = {};
  let invalid = 0;
  for (const line of lines) {
    const [id, region, cents] = line.split(',');
    const amount = Number(cents);
    if (!id || !region || !Number.isInteger(amount)) {
      invalid++;
      continue;
    }
    byRegion[region] = (byRegion[region] ?? 0) + amount;
  }
  return { rows: lines.length - invalid, invalid, byRegion };
}

const chunks = createQueue({ name: `csv-chunks-${run}`, url });
const summaries = createQueue({ name: `csv-summary-${run}`, url });
for (const q of [chunks, summaries]) q.on('error', (error) => console.error(`[queue] ${error.message}`));

const started = Date.now();
const summary = new Promise((resolve) => {
  summaries.process(async (job) => {
    const total = { rows: 0, invalid: 0, byRegion: {} };
    for (const part of job.data.results) {
      if (!part) continue;
      total.rows += part.rows;
      total.invalid += part.invalid;
      for (const [region, cents] of Object.entries(part.byRegion))
        total.byRegion[region] = (total.byRegion[region] ?? 0) + cents;
    }
    resolve({ ...total, failedChunks: job.data.failed, chunks: job.data.results.length });
  });
});
chunks.process(async (job) => summarise(job.data), { concurrency: 8 });

const lines = makeCsv(rows).split('\n').slice(1);
const { parentId, chunkIds } = await chunks.fanOut('import-chunk', lines, {
  chunkSize,
  reduce: `csv-summary-${run}`,
  reduceName: 'summary',
});
console.error(`fan-out ${parentId}: ${rows} rows in ${chunkIds.length} chunk jobs on ${redactUrl(url)}`);

const result = await summary;
console.log(JSON.stringify({ ...result, ms: Date.now() - started }));
await Promise.all([chunks.close(), summaries.close()]);
