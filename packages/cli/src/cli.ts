#!/usr/bin/env node
import { createInterface } from 'node:readline/promises';
import { errorMessage, Scrubber } from '@queuekit/core';
import { EXIT } from './errors.js';
import { visible } from './format.js';
import { urlsInArgv } from './args.js';
import { run } from './run.js';

const argv = process.argv.slice(2);
const scrubber = new Scrubber([process.env.QUEUE_URL, process.env.QUEUE_STORE_URL, ...urlsInArgv(argv)]);
let finished = false;

/** Exit once stdout and stderr have taken everything written (pipes may be asynchronous). */
function exit(code: number): void {
  let pending = 2;
  const done = () => {
    pending--;
    if (pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

// Vendor SDK warnings (deprecations, metadata lookups) are noise on a command line.
if (!process.env.QUEUEKIT_DEBUG) process.removeAllListeners('warning');

// A vendor SDK that rejects in the background must not print a stack trace (which could hold a URL).
const crash = (error: unknown) => {
  if (finished) return;
  finished = true;
  process.stderr.write(
    `${visible(scrubber.scrub(`queuekit: ${errorMessage(error).replace(/\s+/g, ' ')}`))}\n`,
  );
  exit(EXIT.failure);
};
process.on('unhandledRejection', crash);
process.on('uncaughtException', crash);

const interrupt = new AbortController();
const onSignal = () => {
  if (interrupt.signal.aborted) process.exit(EXIT.interrupted);
  interrupt.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString('utf8');
}

async function confirm(question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question(question)).trim());
  } finally {
    prompt.close();
  }
}

const code = await run(argv, {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: interrupt.signal,
  cwd: process.cwd(),
  readStdin,
  ...(process.stdin.isTTY ? { confirm } : {}),
});
if (!finished) {
  finished = true;
  exit(code);
}
