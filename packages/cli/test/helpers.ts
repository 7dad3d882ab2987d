import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type CliIo, run } from '../src/index.js';

/** The built binary. */
export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** What one CLI run printed and how it ended. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** A unique queue name for one test. */
export function queueName(prefix = 'cli'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** The environment of a child: this process's, without any queue URL unless given. */
function childEnv(env: Readonly<Record<string, string | undefined>>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env };
  delete base.QUEUE_URL;
  delete base.QUEUE_STORE_URL;
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete base[key];
    else base[key] = value;
  }
  return base;
}

/** Run `node dist/cli.js ...args` and wait for it to exit (killed after `killAfterMs`). */
export function runCli(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
  options: { input?: string; killAfterMs?: number } = {},
): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: childEnv(env), stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A started child that keeps running (for `watch`): wait for output, then signal it. */
export interface RunningCli {
  /** Resolves once stdout contains `text`. */
  waitForStdout(text: string, timeoutMs?: number): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  readonly done: Promise<CliResult>;
}

/** Start `node dist/cli.js ...args` without waiting for it. */
export function startCli(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): RunningCli {
  const started = Date.now();
  const child = spawn(process.execPath, [CLI, ...args], { env: childEnv(env), stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const check of waiters) check();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), 45_000);
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
  return {
    done,
    kill: (signal) => child.kill(signal),
    waitForStdout: (text, timeoutMs = 20_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no "${text}" on stdout within ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
        const check = () => {
          if (!stdout.includes(text)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
  };
}

/** A text sink that records what is written, optionally pretending to be a terminal. */
export class Recorder {
  text = '';
  constructor(readonly isTTY = false) {}
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
}

/** Run the CLI in-process (memory:// state is shared with the test). */
export async function runHere(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
  extra: Partial<Omit<CliIo, 'stdout' | 'stderr' | 'env'>> & { tty?: boolean } = {},
): Promise<CliResult> {
  const started = Date.now();
  const stdout = new Recorder(extra.tty ?? false);
  const stderr = new Recorder(extra.tty ?? false);
  const { tty: _tty, ...rest } = extra;
  const code = await run(args, { stdout, stderr, env, ...rest });
  return { code, stdout: stdout.text, stderr: stderr.text, ms: Date.now() - started };
}

/** The single JSON document a `--json` run printed. */
export function json<T = Record<string, unknown>>(result: CliResult): T {
  const lines = result.stdout.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected one JSON line, got ${lines.length}: ${result.stdout}`);
  return JSON.parse(lines[0] as string) as T;
}

/** Poll `check` until it returns true or the deadline passes. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
