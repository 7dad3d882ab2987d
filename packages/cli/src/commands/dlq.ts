import type { Queue } from '@queuekit/core';
import { intOption, UsageError } from '../args.js';
import { EXIT } from '../errors.js';
import { isoOrNull, payload, progressBar, table, time } from '../format.js';
import type { Output } from '../io.js';
import type { Session } from '../session.js';
import { type Command, expectArgs } from './command.js';

/** How often the progress of a redrive of everything is sampled (from the dead-letter count). */
const PROGRESS_POLL_MS = 250;

/** `queuekit dlq list <queue>`. */
export const dlqListCommand: Command = {
  name: 'dlq list',
  usage: '<queue> [--limit n]',
  summary: 'dead-lettered jobs with their reason, error and attempts',
  options: ['limit'],
  needsUrl: true,
  async run({ args, options, session, out }) {
    expectArgs(this, args, 1, 1);
    const queueName = args[0] as string;
    const limit = intOption('limit', options.limit, 100, 1, 100_000);
    const records = await session.call(async () =>
      (await session.queue(queueName)).deadLetters.list({ limit }),
    );
    if (out.json) {
      out.document({
        queue: queueName,
        deadLetters: records.map((record) => {
          const decodable = record.data !== undefined;
          return {
            id: record.id,
            name: record.name,
            reason: record.reason,
            error: record.error ?? null,
            attempts: record.attempts,
            deadLetteredAt: isoOrNull(record.deadLetteredAt),
            headers: record.headers,
            data: decodable ? record.data : null,
            decodable,
            bodyBase64: decodable ? null : Buffer.from(record.body).toString('base64'),
          };
        }),
      });
      return EXIT.ok;
    }
    if (records.length === 0) {
      out.line(`No dead-lettered jobs in ${queueName}.`);
      return EXIT.ok;
    }
    out.line(
      table(
        [
          { title: 'ID', max: 40 },
          { title: 'NAME', max: 30 },
          { title: 'REASON' },
          { title: 'ATTEMPTS', align: 'right' },
          { title: 'DEAD-LETTERED' },
          { title: 'ERROR', max: 50 },
          { title: 'DATA', max: 40 },
        ],
        records.map((record) => [
          record.id,
          record.name,
          record.reason,
          String(record.attempts),
          time(record.deadLetteredAt),
          record.error ?? '',
          payload(record.data, record.data !== undefined),
        ]),
      ),
    );
    return EXIT.ok;
  },
};

/** Draws a progress line on stderr when it is a terminal; silent otherwise. */
class Progress {
  private drawn = false;

  constructor(
    private readonly out: Output,
    private readonly label: string,
  ) {}

  update(done: number, total: number | undefined): void {
    if (!this.out.stderrIsTTY) return;
    this.out.control('stderr', '\r\x1b[K');
    this.out.err(progressBar(done, total, this.label));
    this.drawn = true;
  }

  finish(): void {
    if (this.drawn) this.out.control('stderr', '\r\x1b[K');
  }
}

/** Redrive the given ids in chunks, drawing progress after each chunk. */
async function redriveIds(
  session: Session,
  queue: Queue,
  ids: readonly string[],
  chunkSize: number,
  progress: Progress,
): Promise<number> {
  let moved = 0;
  let handled = 0;
  progress.update(0, ids.length);
  for (let start = 0; start < ids.length; start += chunkSize) {
    const chunk = ids.slice(start, start + chunkSize);
    moved += await session.long(() => queue.deadLetters.redrive(chunk));
    handled += chunk.length;
    progress.update(handled, ids.length);
  }
  return moved;
}

/**
 * Redrive everything in one call (every adapter scans its whole dead-letter queue per call, so chunking
 * by id would rescan it once per chunk) and sample the dead-letter count meanwhile for the progress line.
 */
async function redriveAll(
  session: Session,
  queue: Queue,
  initial: number | undefined,
  progress: Progress,
): Promise<number> {
  let finished = false;
  const work = session
    .long(() => queue.deadLetters.redrive())
    .finally(() => {
      finished = true;
    });
  progress.update(0, initial);
  const sample = async () => {
    while (!finished) {
      await Promise.race([work.catch(() => undefined), new Promise((r) => setTimeout(r, PROGRESS_POLL_MS))]);
      if (finished) break;
      const left = await queue.stats().then(
        (stats) => stats.deadLettered,
        () => undefined,
      );
      if (!finished && initial !== undefined && left !== undefined) {
        progress.update(Math.max(0, initial - left), initial);
      }
    }
  };
  const [moved] = await Promise.all([work, quietly(sample)]);
  progress.update(moved, Math.max(moved, initial ?? moved));
  return moved;
}

/** Run a promise only for its side effects, never rejecting. */
function quietly(run: () => Promise<void>): Promise<void> {
  return run().catch(() => undefined);
}

/** `queuekit dlq redrive <queue> (--id ID... | --all)`. */
export const dlqRedriveCommand: Command = {
  name: 'dlq redrive',
  usage: '<queue> (--id id [--id id]... | --all) [--chunk n]',
  summary: 'put dead-lettered jobs back on the queue with a fresh attempt count (progress on a terminal)',
  options: ['id', 'all', 'chunk'],
  needsUrl: true,
  async run({ args, options, session, out: output }) {
    expectArgs(this, args, 1, 1);
    const queueName = args[0] as string;
    const ids = [...new Set(options.id ?? [])];
    if (ids.length === 0 && !options.all) throw new UsageError('give --id ID (repeatable) or --all');
    if (ids.length > 0 && options.all) throw new UsageError('give either --id or --all, not both');
    const chunkSize = intOption('chunk', options.chunk, 50, 1, 10_000);
    // The first call is bounded: a broker that is down fails fast here.
    const { queue, before } = await session.call(async () => {
      const q = await session.queue(queueName);
      return { queue: q, before: await q.stats() };
    });
    const progress = new Progress(output, 'redriven');
    let moved: number;
    try {
      moved =
        ids.length > 0
          ? await redriveIds(session, queue, ids, chunkSize, progress)
          : await redriveAll(session, queue, before.deadLettered, progress);
    } finally {
      progress.finish();
    }
    if (output.json) {
      output.document({ queue: queueName, redriven: moved, requested: ids.length > 0 ? ids.length : null });
    } else if (ids.length > 0) {
      output.line(`Redrove ${moved} dead-lettered job(s) of ${queueName} (${ids.length} id(s) requested).`);
    } else {
      output.line(`Redrove ${moved} dead-lettered job(s) of ${queueName}.`);
    }
    return EXIT.ok;
  },
};

/** `queuekit dlq purge <queue> [--yes]`. */
export const dlqPurgeCommand: Command = {
  name: 'dlq purge',
  usage: '<queue> [--yes]',
  summary: 'delete every dead-lettered job (asks first on a terminal; --yes to skip)',
  options: ['yes'],
  needsUrl: true,
  async run({ args, options, session, out, io }) {
    expectArgs(this, args, 1, 1);
    const queueName = args[0] as string;
    const { queue, before } = await session.call(async () => {
      const q = await session.queue(queueName);
      return { queue: q, before: await q.stats() };
    });
    if (!options.yes && before.deadLettered !== 0) {
      if (!io.confirm) throw new UsageError('refusing to purge without --yes (no terminal to ask)');
      const what = before.deadLettered === undefined ? 'every' : String(before.deadLettered);
      const agreed = await io.confirm(`Delete ${what} dead-lettered job(s) of ${queueName}? [y/N] `);
      if (!agreed) {
        out.err('queuekit: purge cancelled\n');
        return EXIT.failure;
      }
    }
    const purged = await session.long(() => queue.deadLetters.purge());
    if (out.json) out.document({ queue: queueName, purged });
    else out.line(`Purged ${purged} dead-lettered job(s) of ${queueName}.`);
    return EXIT.ok;
  },
};
