import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * How a child process builds a driver: `module` (a file URL, a path, or a package name resolvable from the
 * conformance package) exports `exportName` (default `createDriver`, every adapter's URL export): a function
 * called with `options` (JSON), or a driver class constructed with them. The child inherits the environment
 * plus `env`.
 */
export interface CrashWorkerOptions {
  readonly module: string | URL;
  readonly exportName?: string;
  readonly options?: unknown;
  readonly env?: Readonly<Record<string, string>>;
}

/** What one crash worker does with the jobs of `queue`. */
export interface CrashWorkerJob {
  readonly queue: string;
  /** Lock per delivery (`lockDuration`). */
  readonly lockMs: number;
  /** The handler SIGKILLs its own process on attempts up to this one, and completes later ones. */
  readonly crashUntilAttempt: number;
  /** `hang`: on those attempts, hang in the handler (its lock renewed) until the parent kills the worker. Default `kill`. */
  readonly mode?: 'kill' | 'hang';
  /** Jobs in flight at once. Default 1. */
  readonly concurrency?: number;
}

/** One line the crash worker prints (JSON): `ready`, `started`, `completed`, `dead-lettered` or `error`. */
export interface WorkerLine {
  readonly event: 'ready' | 'started' | 'completed' | 'dead-lettered' | 'error';
  readonly id?: string;
  readonly attempt?: number;
  readonly reason?: string;
  readonly message?: string;
}

/** The script a crash worker runs (dist/crash-worker.js). */
export const crashWorkerScript: string = fileURLToPath(new URL('./crash-worker.js', import.meta.url));

/** Reads a child's stdout as JSON lines; `next` waits for the first unread line that `match` accepts. */
export interface LineReader<L> {
  /** Every line read so far, in order. */
  readonly lines: readonly L[];
  /** Resolve with the first line (read or to come) after the previous match that `match` accepts. */
  next<R>(what: string, timeoutMs: number, match: (line: L) => R | undefined): Promise<R>;
}

/** A {@link LineReader} over `child`'s stdout; rejects pending waits when the child exits. */
export function readJsonLines<L = Record<string, unknown>>(child: ChildProcess): LineReader<L> {
  const lines: L[] = [];
  let cursor = 0;
  let exited: string | undefined;
  let pending = '';
  const wakers = new Set<() => void>();
  const wake = () => {
    for (const waker of [...wakers]) waker();
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
      const text = pending.slice(0, end).trim();
      pending = pending.slice(end + 1);
      if (!text.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(text) as L);
      } catch {
        // Not one of ours (a library printing to stdout).
      }
    }
    wake();
  });
  child.once('exit', (code, signal) => {
    exited = `exited (${signal ?? code})`;
    wake();
  });
  return {
    lines,
    next(what, timeoutMs, match) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`No line ${what} within ${timeoutMs} ms`)), timeoutMs);
        const done = (error?: Error, value?: unknown) => {
          clearTimeout(timer);
          wakers.delete(check);
          if (error) reject(error);
          else resolve(value as never);
        };
        const check = () => {
          for (; cursor < lines.length; cursor++) {
            const found = match(lines[cursor] as L);
            if (found !== undefined) {
              cursor++;
              return done(undefined, found);
            }
          }
          if (exited) done(new Error(`The worker ${exited} before printing a line ${what}`));
        };
        wakers.add(check);
        check();
      });
    },
  };
}

/** A running crash worker. */
export interface CrashWorker {
  readonly child: ChildProcess;
  readonly lines: LineReader<WorkerLine>;
  /** Resolves with the signal (or exit code) the child ended with. */
  readonly exited: Promise<string>;
  /** SIGKILL the child if it still runs, and wait for it. */
  kill(): Promise<string>;
}

/** Start a worker process that consumes `job.queue` through the driver `worker` describes. */
export function spawnCrashWorker(worker: CrashWorkerOptions, job: CrashWorkerJob): CrashWorker {
  const module = worker.module instanceof URL ? worker.module.href : worker.module;
  const config = JSON.stringify({ ...job, module, exportName: worker.exportName, options: worker.options });
  const child = spawn(process.execPath, [crashWorkerScript, config], {
    env: { ...process.env, ...worker.env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? String(code))),
  );
  return {
    child,
    lines: readJsonLines<WorkerLine>(child),
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}
