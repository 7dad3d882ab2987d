import { readFileSync } from 'node:fs';
import { intOption, parseCommandLine, checkOptions, UsageError } from './args.js';
import type { Command } from './commands/command.js';
import { COMMANDS } from './commands/index.js';
import { describeError, EXIT } from './errors.js';
import { commandHelp, mainHelp } from './help.js';
import { type CliIo, Output } from './io.js';
import { Scrubber } from '@queuekit/core';
import { urlsInArgv } from './args.js';
import { Session } from './session.js';

/** Default `--timeout`, ms. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** The CLI's version, from its package.json. */
export function version(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return manifest.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function findCommand(positionals: readonly string[]): { command: Command; args: string[] } {
  const [first, second] = positionals;
  if (first === 'dlq') {
    const command = COMMANDS.find((candidate) => candidate.name === `dlq ${second}`);
    if (!command) {
      throw new UsageError(
        second === undefined ? '`dlq` needs list, redrive or purge' : `unknown command \`dlq ${second}\``,
      );
    }
    return { command, args: positionals.slice(2) };
  }
  const command = COMMANDS.find((candidate) => candidate.name === first);
  if (!command) throw new UsageError(`unknown command \`${first}\``);
  return { command, args: positionals.slice(1) };
}

/**
 * Run the CLI on `argv` (the words after `queuekit`) and resolve with the exit code. Writes only to
 * `io.stdout` / `io.stderr`, through a scrubber that masks every credential of the URLs involved.
 * Never throws.
 */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const env = io.env ?? {};
  // Known before parsing, so even an argument error cannot echo a password.
  const scrubber = new Scrubber([env.QUEUE_URL, env.QUEUE_STORE_URL, ...urlsInArgv(argv)]);
  let out = new Output(io, scrubber, false);
  const shown: { queue?: string; store?: string } = {};
  let session: Session | undefined;
  try {
    const { positionals, options } = parseCommandLine(argv);
    out = new Output(io, scrubber, options.json === true);
    if (options.version) {
      out.line(version());
      return EXIT.ok;
    }
    if (positionals.length === 0) {
      if (options.help) {
        out.line(mainHelp());
        return EXIT.ok;
      }
      out.err(`${mainHelp()}\n`);
      return EXIT.usage;
    }
    const { command, args } = findCommand(positionals);
    if (options.help) {
      out.line(commandHelp(command));
      return EXIT.ok;
    }
    checkOptions(command.name, options, command.options);
    const url = options.url ?? env.QUEUE_URL;
    if (command.needsUrl && !url) throw new UsageError('no queue URL: set QUEUE_URL or pass --url');
    if (url) shown.queue = scrubber.url(url);
    const storeUrl = options.store ?? env.QUEUE_STORE_URL;
    if (storeUrl) shown.store = scrubber.url(storeUrl);
    session = new Session({
      url: url ?? 'memory://',
      ...(storeUrl ? { storeUrl } : {}),
      ...(options['store-prefix'] !== undefined ? { storePrefix: options['store-prefix'] } : {}),
      timeoutMs: intOption('timeout', options.timeout, DEFAULT_TIMEOUT_MS, 1),
      ...(io.signal ? { signal: io.signal } : {}),
    });
    return await command.run({ args, options, session, out, io });
  } catch (error) {
    const report = describeError(error, shown);
    out.err(`${report.line}\n`);
    return report.exitCode;
  } finally {
    await session?.close();
  }
}
