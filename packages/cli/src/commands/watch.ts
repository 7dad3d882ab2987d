import { abortableDelay, errorMessage } from '@queuekit/core';
import { intOption } from '../args.js';
import { EXIT } from '../errors.js';
import { duration, time } from '../format.js';
import type { Output } from '../io.js';
import { collectStats, type StatsRow, statsTable } from './stats.js';
import { type Command, expectArgs } from './command.js';

/** Redraws a frame in place on a terminal. */
class Screen {
  private lines = 0;

  constructor(private readonly out: Output) {}

  draw(frame: string): void {
    if (this.lines > 0) this.out.control('stdout', `\x1b[${this.lines}F\x1b[J`);
    this.out.out(`${frame}\n`);
    this.lines = frame.split('\n').length;
  }
}

/** A one-line summary of a queue's counts for logs (non-terminal output). */
function logLine(at: Date, row: StatsRow): string {
  const show = (value: number | null) => (value === null ? '-' : String(value));
  return `${time(at)} ${row.queue} waiting=${show(row.waiting)} delayed=${show(row.delayed)} active=${show(row.active)} dead-lettered=${show(row.deadLettered)}`;
}

/** `queuekit watch <queue...>`: live stats until Ctrl-C. */
export const watchCommand: Command = {
  name: 'watch',
  usage: '<queue...> [--interval ms] [--count n]',
  summary: 'live stats, refreshed every --interval ms (default 1000) until Ctrl-C or --count refreshes',
  options: ['interval', 'count'],
  needsUrl: true,
  async run({ args, options, session, out, io }) {
    expectArgs(this, args, 1, Number.POSITIVE_INFINITY);
    const interval = intOption('interval', options.interval, 1_000, 100, 86_400_000);
    const limit = intOption('count', options.count, 0, 0);
    const screen = new Screen(out);
    const live = out.stdoutIsTTY && !out.json;
    // The first sample is bounded like any first call: a broker that is down fails the command.
    let rows = await collectStats(session, args);
    let lastError: string | undefined;
    for (let tick = 1; ; tick++) {
      const at = new Date();
      if (out.json) {
        out.document({ time: at.toISOString(), queues: rows, error: lastError ?? null });
      } else if (live) {
        const header = `queuekit watch  ${out.url(session.options.url)}  every ${duration(interval)}  ${time(at)}  (Ctrl-C to stop)`;
        const footer = lastError ? `\nlast refresh failed: ${lastError}` : '';
        screen.draw(`${header}\n\n${statsTable(rows)}${footer}`);
      } else if (lastError) {
        out.line(`${time(at)} refresh failed: ${lastError}`);
      } else {
        for (const row of rows) out.line(logLine(at, row));
      }
      if (limit > 0 && tick >= limit) break;
      await abortableDelay(interval, io.signal);
      if (io.signal?.aborted) break;
      try {
        rows = await collectStats(session, args);
        lastError = undefined;
      } catch (error) {
        if (io.signal?.aborted) break;
        // Keep watching through a broker outage; the last good counts stay on screen.
        lastError = errorMessage(error).replace(/\s+/g, ' ');
      }
    }
    return EXIT.ok;
  },
};
