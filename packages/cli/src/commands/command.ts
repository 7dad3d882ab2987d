import type { OptionName, ParsedOptions } from '../args.js';
import { UsageError } from '../args.js';
import type { CliIo, Output } from '../io.js';
import type { Session } from '../session.js';

/** What a command gets to work with. */
export interface CommandContext {
  /** Words after the command (and sub-command). */
  readonly args: readonly string[];
  readonly options: ParsedOptions;
  readonly session: Session;
  readonly out: Output;
  readonly io: CliIo;
}

/** One `queuekit` command. */
export interface Command {
  /** The words that select it, e.g. `dlq redrive`. */
  readonly name: string;
  /** Argument synopsis, e.g. `<queue> [--limit n]`. */
  readonly usage: string;
  /** One-line description for `--help`. */
  readonly summary: string;
  /** Options it takes besides the global ones. */
  readonly options: readonly OptionName[];
  /** Whether it needs a queue URL (all but `schedules`, which reads the store). */
  readonly needsUrl: boolean;
  /** Run it; resolves with the exit code. */
  run(context: CommandContext): Promise<number>;
}

/** The arguments of a command, checked for count: `[min, max]` words. */
export function expectArgs(command: Command, args: readonly string[], min: number, max: number): void {
  if (args.length < min) {
    throw new UsageError(`\`${command.name}\` needs ${command.usage.split(' [')[0]}`);
  }
  if (args.length > max) {
    throw new UsageError(`\`${command.name}\`: unexpected argument "${args[max]}"`);
  }
}
