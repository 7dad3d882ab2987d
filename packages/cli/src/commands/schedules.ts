import type { ScheduleInfo } from '@queuekit/core';
import { EXIT } from '../errors.js';
import { duration, isoOrNull, payload, table, time } from '../format.js';
import { type Command, expectArgs } from './command.js';

function when(schedule: ScheduleInfo<unknown>): string {
  if (schedule.cron !== undefined) return `cron ${schedule.cron} (${schedule.tz ?? 'UTC'})`;
  return schedule.every !== undefined ? `every ${duration(schedule.every)}` : '-';
}

/** `queuekit schedules <queue>`: recurring jobs, read from the store the workers share. */
export const schedulesCommand: Command = {
  name: 'schedules',
  usage: '<queue> --store redis://HOST:6379',
  summary: 'recurring jobs with their last and next run (read from the store given with --store)',
  options: [],
  needsUrl: false,
  async run({ args, session, out }) {
    expectArgs(this, args, 1, 1);
    const queueName = args[0] as string;
    const schedules = await session.call(
      async () => (await session.storeQueue(queueName)).schedules.list(),
      'store',
    );
    if (out.json) {
      out.document({
        queue: queueName,
        schedules: schedules.map((schedule) => ({
          name: schedule.name,
          cron: schedule.cron ?? null,
          every: schedule.every ?? null,
          tz: schedule.cron !== undefined ? (schedule.tz ?? 'UTC') : null,
          jobName: schedule.jobName ?? schedule.name,
          data: schedule.data ?? null,
          lastRunAt: isoOrNull(schedule.lastRunAt),
          nextRunAt: isoOrNull(schedule.nextRunAt),
        })),
      });
      return EXIT.ok;
    }
    if (schedules.length === 0) {
      out.line(`No schedules for ${queueName}.`);
      return EXIT.ok;
    }
    out.line(
      table(
        [
          { title: 'NAME', max: 40 },
          { title: 'WHEN', max: 40 },
          { title: 'JOB NAME', max: 30 },
          { title: 'NEXT RUN' },
          { title: 'LAST RUN' },
          { title: 'DATA', max: 40 },
        ],
        schedules.map((schedule) => [
          schedule.name,
          when(schedule),
          schedule.jobName ?? schedule.name,
          time(schedule.nextRunAt),
          time(schedule.lastRunAt),
          payload(schedule.data),
        ]),
      ),
    );
    return EXIT.ok;
  },
};
