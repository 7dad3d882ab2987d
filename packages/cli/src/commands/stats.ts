import type { QueueStats } from '@queuekit/core';
import { EXIT } from '../errors.js';
import { count, table } from '../format.js';
import type { Session } from '../session.js';
import { type Command, expectArgs } from './command.js';

/** Counts of one queue in the JSON output: every key present, null when the broker cannot tell. */
export interface StatsRow {
  readonly queue: string;
  readonly waiting: number | null;
  readonly delayed: number | null;
  readonly active: number | null;
  readonly deadLettered: number | null;
}

/** Stats of several queues, one broker call each (each bounded by the timeout). */
export async function collectStats(session: Session, names: readonly string[]): Promise<StatsRow[]> {
  const rows: StatsRow[] = [];
  for (const name of names) {
    const stats: QueueStats = await session.call(async () => (await session.queue(name)).stats());
    rows.push({
      queue: name,
      waiting: stats.waiting ?? null,
      delayed: stats.delayed ?? null,
      active: stats.active ?? null,
      deadLettered: stats.deadLettered ?? null,
    });
  }
  return rows;
}

/** The stats table (unknown counts shown as `-`). */
export function statsTable(rows: readonly StatsRow[]): string {
  const show = (value: number | null) => count(value ?? undefined);
  return table(
    [
      { title: 'QUEUE' },
      { title: 'WAITING', align: 'right' },
      { title: 'DELAYED', align: 'right' },
      { title: 'ACTIVE', align: 'right' },
      { title: 'DEAD-LETTERED', align: 'right' },
    ],
    rows.map((row) => [
      row.queue,
      show(row.waiting),
      show(row.delayed),
      show(row.active),
      show(row.deadLettered),
    ]),
  );
}

/** `queuekit stats <queue...>`: counts per queue. */
export const statsCommand: Command = {
  name: 'stats',
  usage: '<queue...>',
  summary: 'waiting, delayed, active and dead-lettered counts (- where the broker cannot tell)',
  options: [],
  needsUrl: true,
  async run({ args, session, out }) {
    expectArgs(this, args, 1, Number.POSITIVE_INFINITY);
    const rows = await collectStats(session, args);
    if (out.json) out.document({ queues: rows });
    else out.line(statsTable(rows));
    return EXIT.ok;
  },
};
