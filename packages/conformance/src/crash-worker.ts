/**
 * A worker process for the crash cases. argv[2] is JSON: `{ module, exportName, options, queue, lockMs,
 * crashUntilAttempt }`. It builds its driver from `module`'s factory, consumes `queue` one job at a time,
 * prints every event as a JSON line on stdout and SIGKILLs itself inside the handler while the job's
 * attempt is at most `crashUntilAttempt` (or, with `mode: 'hang'`, hangs there until the parent kills it). Writes to a pipe are synchronous on Linux: a line printed just
 * before the kill is not lost.
 */
import { createQueue, type Driver } from '@queuekit/core';

interface Config {
  readonly module: string;
  readonly exportName?: string;
  readonly options?: unknown;
  readonly queue: string;
  readonly lockMs: number;
  readonly crashUntilAttempt: number | null;
  readonly mode?: 'kill' | 'hang';
  readonly concurrency?: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const loaded = (await import(config.module)) as Record<string, unknown>;
const factory = loaded[config.exportName ?? 'createDriver'];
if (typeof factory !== 'function') {
  process.stderr.write(
    `crash worker: ${config.module} exports no function ${config.exportName ?? 'createDriver'}\n`,
  );
  process.exit(2);
}
// A factory function (every adapter's `createDriver`) or a driver class.
const isClass = /^class[\s{]/.test(Function.prototype.toString.call(factory));
const driver = (await (isClass
  ? new (factory as new (options: unknown) => Driver)(config.options)
  : (factory as (options: unknown) => Driver | Promise<Driver>)(config.options))) as Driver;
const queue = createQueue({ name: config.queue, driver, ownsDriver: true });
// JSON has no Infinity: null means "crash on every attempt".
const crashUntil = config.crashUntilAttempt ?? Number.POSITIVE_INFINITY;
queue.on('completed', (job) => print({ event: 'completed', id: job.id, attempt: job.attempt }));
queue.on('dead-lettered', (info) => print({ event: 'dead-lettered', id: info.id, reason: info.reason }));
queue.on('error', (error) => print({ event: 'error', message: error.message }));
queue.process(
  async (job) => {
    print({ event: 'started', id: job.id, attempt: job.attempt });
    if (job.attempt <= crashUntil) {
      if (config.mode === 'hang') await new Promise(() => undefined); // until the parent kills this process
      process.kill(process.pid, 'SIGKILL');
    }
    return 'survived';
  },
  { concurrency: config.concurrency ?? 1, lockDuration: config.lockMs },
);
print({ event: 'ready' });
