import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  createMemoryDriver,
  createQueue,
  JobTimeoutError,
  MemoryBroker,
  TimeoutError,
} from '../src/index.js';
import { until } from './helpers.js';

describe('process({ timeout })', () => {
  it('aborts a hung handler with a JobTimeoutError and counts a failed attempt, freeing its slot', async () => {
    const broker = new MemoryBroker();
    const queue = createQueue({ name: 'hung', driver: createMemoryDriver({ broker }), ownsDriver: true });
    const reasons: unknown[] = [];
    const attempts: string[] = [];
    const failed: Error[] = [];
    const dead: { reason: string; error?: string }[] = [];
    queue.on('failed', (_job, error) => failed.push(error));
    queue.on('dead-lettered', (info) => dead.push(info));
    queue.process(
      (job, ctx) => {
        attempts.push(`${job.name}#${job.attempt}`);
        if (job.name === 'quick') return undefined;
        ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason));
        return new Promise(() => undefined); // ignores its signal: never settles
      },
      { timeout: 100, concurrency: 1 },
    );
    await queue.send('hangs', null, { maxAttempts: 2, backoff: { type: 'fixed', delay: 10 } });
    await queue.send('quick', null);
    await until(() => dead.length === 1 && attempts.includes('quick#1'), 'the hung job dead-lettered');
    expect(attempts.filter((a) => a.startsWith('hangs'))).toEqual(['hangs#1', 'hangs#2']);
    expect(reasons).toHaveLength(2);
    expect(reasons.every((r) => r instanceof JobTimeoutError && r instanceof TimeoutError)).toBe(true);
    expect(failed.every((e) => e instanceof JobTimeoutError)).toBe(true);
    expect(dead[0]).toMatchObject({ reason: 'max-attempts' });
    expect(dead[0]?.error).toMatch(/timeout of 100 ms/);
    await queue.close({ timeout: 50 });
  });

  it('a bad timeout is a ConfigError naming the field', () => {
    const queue = createQueue({
      name: 'bad-timeout',
      driver: createMemoryDriver({ broker: new MemoryBroker() }),
    });
    for (const timeout of [0, -1, 1.5, Number.NaN, 2 ** 31])
      expect(() => queue.process(async () => undefined, { timeout }), String(timeout)).toThrow(ConfigError);
    expect(() => queue.process(async () => undefined, { timeout: 0 })).toThrow(/`timeout`/);
  });
});
