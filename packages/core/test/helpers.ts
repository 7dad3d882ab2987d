import { setTimeout as tick } from 'node:timers/promises';

/**
 * Poll `check` (every 10 ms, a deadline, not a sleep) until it answers something other than `false` or
 * `undefined`, and resolve with that answer; fail naming `what` after `timeoutMs`. The one poller of
 * core's tests: `await until(() => done.length === 3, 'three jobs')` waits for a condition,
 * `const jobs = await until(async () => (await list()).at(0), 'a job')` for a value.
 */
export async function until<R>(
  check: () => R | Promise<R>,
  what: string,
  timeoutMs = 10_000,
): Promise<Exclude<R, false | undefined>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== false && value !== undefined) return value as Exclude<R, false | undefined>;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await tick(10);
  }
}

/** A handler body that never settles by itself: it rejects when the job's signal aborts. */
export function hangUntilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}
