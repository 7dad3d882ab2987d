/**
 * The queuekit command line as a library: `run(argv, io)` is what the `queuekit` binary calls, so
 * tests and tools can run it in-process.
 *
 * @packageDocumentation
 */
export { UsageError, urlsInArgv } from './args.js';
export type { Command, CommandContext } from './commands/index.js';
export { COMMANDS } from './commands/index.js';
export { describeError, EXIT, type ErrorReport } from './errors.js';
export { type Column, jsonText, progressBar, table, visible } from './format.js';
export type { CliIo, TextSink } from './io.js';
/** The scrubber is core's (one for the whole project), re-exported for existing imports. */
export { Scrubber, secretsOf } from '@queuekit/core';
export { DEFAULT_TIMEOUT_MS, run, version } from './run.js';
