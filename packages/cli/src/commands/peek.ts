import { intOption } from '../args.js';
import { EXIT } from '../errors.js';
import { isoOrNull, payload, table, time } from '../format.js';
import { type Command, expectArgs } from './command.js';

/** `queuekit peek <queue>`: waiting jobs, without consuming them. */
export const peekCommand: Command = {
  name: 'peek',
  usage: '<queue> [--limit n]',
  summary: 'show waiting jobs without consuming them (drivers with peek support)',
  options: ['limit'],
  needsUrl: true,
  async run({ args, options, session, out }) {
    expectArgs(this, args, 1, 1);
    const queueName = args[0] as string;
    const limit = intOption('limit', options.limit, 20, 1, 10_000);
    const jobs = await session.call(async () => (await session.queue(queueName)).peek(limit));
    if (out.json) {
      out.document({
        queue: queueName,
        jobs: jobs.map((job) => ({
          id: job.id,
          name: job.name,
          data: job.data ?? null,
          priority: job.priority,
          attempt: job.attempt,
          headers: job.headers,
          enqueuedAt: isoOrNull(job.enqueuedAt),
          runAt: isoOrNull(job.runAt),
        })),
      });
      return EXIT.ok;
    }
    if (jobs.length === 0) {
      out.line(`No waiting jobs in ${queueName}.`);
      return EXIT.ok;
    }
    out.line(
      table(
        [
          { title: 'ID', max: 40 },
          { title: 'NAME', max: 30 },
          { title: 'PRIORITY', align: 'right' },
          { title: 'ATTEMPT', align: 'right' },
          { title: 'ENQUEUED' },
          { title: 'RUN AT' },
          { title: 'DATA', max: 60 },
        ],
        jobs.map((job) => [
          job.id,
          job.name,
          String(job.priority),
          String(job.attempt),
          time(job.enqueuedAt),
          time(job.runAt),
          payload(job.data, job.data !== undefined),
        ]),
      ),
    );
    return EXIT.ok;
  },
};
