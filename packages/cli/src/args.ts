import { parseArgs } from 'node:util';

/** A mistake in the command line: printed with a pointer to `--help`, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Every option the CLI knows, for `util.parseArgs`. Which command accepts which is checked afterwards. */
const OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
  store: { type: 'string' },
  'store-prefix': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  file: { type: 'string' },
  delay: { type: 'string' },
  priority: { type: 'string' },
  'job-id': { type: 'string' },
  'max-attempts': { type: 'string' },
  header: { type: 'string', multiple: true },
  limit: { type: 'string' },
  id: { type: 'string', multiple: true },
  all: { type: 'boolean' },
  chunk: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  interval: { type: 'string' },
  count: { type: 'string' },
} as const;

/** Name of an option of the CLI. */
export type OptionName = keyof typeof OPTIONS;

/** Options every command accepts. */
export const GLOBAL_OPTIONS: readonly OptionName[] = [
  'url',
  'json',
  'timeout',
  'store',
  'store-prefix',
  'help',
];

/** Values of the parsed options (strings as typed; see the `*Option` helpers for numbers). */
export interface ParsedOptions {
  url?: string;
  json?: boolean;
  timeout?: string;
  store?: string;
  'store-prefix'?: string;
  help?: boolean;
  version?: boolean;
  file?: string;
  delay?: string;
  priority?: string;
  'job-id'?: string;
  'max-attempts'?: string;
  header?: string[];
  limit?: string;
  id?: string[];
  all?: boolean;
  chunk?: string;
  yes?: boolean;
  interval?: string;
  count?: string;
}

/** A parsed command line: words (command, sub-command, arguments) and options. */
export interface ParsedArgs {
  readonly positionals: string[];
  readonly options: ParsedOptions;
}

/** Parse `argv` (without `node` and the script). Throws UsageError on unknown options or missing values. */
export function parseCommandLine(argv: readonly string[]): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    return { positionals, options: values as ParsedOptions };
  } catch (error) {
    // parseArgs messages are one line already, e.g. "Unknown option '--foo'".
    throw new UsageError(String((error as Error).message).split('\n')[0] ?? 'invalid arguments');
  }
}

/** Throw a UsageError when an option outside `allowed` (plus the global ones) was given. */
export function checkOptions(command: string, options: ParsedOptions, allowed: readonly OptionName[]): void {
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!GLOBAL_OPTIONS.includes(name as OptionName) && !allowed.includes(name as OptionName)) {
      throw new UsageError(`\`${command}\` does not take --${name}`);
    }
  }
}

/** Parse an integer option within bounds; `fallback` when absent. */
export function intOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new UsageError(`--${name} expects an integer, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) throw new UsageError(`--${name} must be between ${min} and ${max}`);
  return value;
}

/** Parse repeated `--header key=value` options. */
export function headerOptions(raw: readonly string[] | undefined): Record<string, string> | undefined {
  if (!raw || raw.length === 0) return undefined;
  const headers: Record<string, string> = {};
  for (const entry of raw) {
    const at = entry.indexOf('=');
    if (at < 1) throw new UsageError(`--header expects key=value, got "${entry}"`);
    headers[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return headers;
}

/** The URLs given on a command line (`--url`, `--store`, with a space or `=`), even one that does not parse. */
export function urlsInArgv(argv: readonly string[]): string[] {
  const urls: string[] = [];
  argv.forEach((arg, index) => {
    const inline = /^--(?:url|store)=(.*)$/s.exec(arg);
    if (inline?.[1]) urls.push(inline[1]);
    else if ((arg === '--url' || arg === '--store') && argv[index + 1] !== undefined) {
      urls.push(argv[index + 1] as string);
    }
  });
  return urls;
}
