import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { SendOptions } from '@queuekit/core';
import { headerOptions, intOption, UsageError } from '../args.js';
import { EXIT } from '../errors.js';
import type { CliIo } from '../io.js';
import { type Command, expectArgs } from './command.js';

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${source} is not valid JSON: ${(error as Error).message}`);
  }
}

/** The payload: the JSON argument, `--file path` (`-` for stdin), or null. */
async function readPayload(
  inline: string | undefined,
  file: string | undefined,
  io: CliIo,
): Promise<unknown> {
  if (inline !== undefined && file !== undefined)
    throw new UsageError('give the payload as JSON or --file, not both');
  if (inline !== undefined) return parseJson(inline, 'the payload');
  if (file === undefined) return null;
  if (file === '-') {
    if (!io.readStdin) throw new UsageError('--file - needs standard input');
    return parseJson(await io.readStdin(), 'standard input');
  }
  let text: string;
  try {
    text = await readFile(resolve(io.cwd ?? process.cwd(), file), 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read --file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return parseJson(text, file);
}

/** `queuekit send <queue> <name> [json]`: send one job. */
export const sendCommand: Command = {
  name: 'send',
  usage:
    '<queue> <name> [json | --file path] [--delay ms] [--priority 0-9] [--job-id id] [--max-attempts n] [--header k=v]...',
  summary: 'send one job (payload as a JSON argument, a file, or `--file -` for stdin)',
  options: ['file', 'delay', 'priority', 'job-id', 'max-attempts', 'header'],
  needsUrl: true,
  async run({ args, options, session, out, io }) {
    expectArgs(this, args, 2, 3);
    const [queueName, jobName, inline] = args as [string, string, string | undefined];
    const data = await readPayload(inline, options.file, io);
    const headers = headerOptions(options.header);
    const sendOptions: SendOptions = {
      ...(options.delay !== undefined ? { delay: intOption('delay', options.delay, 0) } : {}),
      ...(options.priority !== undefined
        ? { priority: intOption('priority', options.priority, 0, 0, 9) }
        : {}),
      ...(options['job-id'] !== undefined ? { jobId: options['job-id'] } : {}),
      ...(options['max-attempts'] !== undefined
        ? { maxAttempts: intOption('max-attempts', options['max-attempts'], 1, 1) }
        : {}),
      ...(headers ? { headers } : {}),
    };
    const id = await session.call(async () =>
      (await session.queue(queueName)).send(jobName, data, sendOptions),
    );
    if (out.json) out.document({ queue: queueName, id, name: jobName });
    else out.line(`Sent ${jobName} to ${queueName}: id ${id}`);
    return EXIT.ok;
  },
};
