import type { Scrubber } from '@queuekit/core';
import { jsonText, visible } from './format.js';

/** A place to write text (process.stdout, process.stderr or a test buffer). */
export interface TextSink {
  write(text: string): unknown;
  /** True when it is a terminal: progress bars and in-place redraws are drawn only then. */
  readonly isTTY?: boolean;
  /** Terminal width, when known. */
  readonly columns?: number;
}

/** Everything `run` touches outside itself, so tests can call it in-process. */
export interface CliIo {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** Environment (for `QUEUE_URL`, `QUEUE_STORE_URL`). Default: none. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Aborted on Ctrl-C: ends `watch` (and stops a running command's waits). */
  readonly signal?: AbortSignal;
  /** Directory `--file` paths are relative to. Default: `process.cwd()`. */
  readonly cwd?: string;
  /** Read standard input whole (for `--file -`). */
  readonly readStdin?: () => Promise<string>;
  /** Ask a yes/no question (for `dlq purge` without `--yes`); absent when nobody can answer. */
  readonly confirm?: (question: string) => Promise<boolean>;
}

/**
 * Output of one command run: every line goes through the scrubber, and human text through
 * {@link visible} so that broker data cannot drive the terminal. Only the CLI's own cursor
 * movements are written with {@link Output.control}.
 */
export class Output {
  constructor(
    private readonly io: CliIo,
    private readonly scrubber: Scrubber,
    /** `--json` was given. */
    readonly json: boolean,
  ) {}

  /** Whether stderr is a terminal (progress drawing). */
  get stderrIsTTY(): boolean {
    return this.io.stderr.isTTY === true;
  }

  /** Whether stdout is a terminal (in-place redraws). */
  get stdoutIsTTY(): boolean {
    return this.io.stdout.isTTY === true;
  }

  /** Write text to stdout (scrubbed, control characters shown as escapes). */
  out(text: string): void {
    this.io.stdout.write(visible(this.scrubber.scrub(text)));
  }

  /** Write one line to stdout. */
  line(text = ''): void {
    this.out(`${text}\n`);
  }

  /** Write one JSON document (one line) to stdout: still JSON, with terminal controls as `\uXXXX`. */
  document(value: unknown): void {
    this.io.stdout.write(`${this.scrubber.scrub(jsonText(value))}\n`);
  }

  /** Write text to stderr (scrubbed, control characters shown as escapes). */
  err(text: string): void {
    this.io.stderr.write(visible(this.scrubber.scrub(text)));
  }

  /** Write one of the CLI's own terminal sequences (cursor moves, line erase) as is. */
  control(stream: 'stdout' | 'stderr', sequence: '\r\x1b[K' | `\x1b[${number}F\x1b[J`): void {
    this.io[stream].write(sequence);
  }

  /** A URL safe to show. */
  url(url: string): string {
    return this.scrubber.url(url);
  }
}
