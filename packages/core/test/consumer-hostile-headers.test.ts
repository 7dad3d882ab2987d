import { describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue, type Job, MemoryBroker, utf8 } from '../src/index.js';
import {
  attemptHeader,
  backoffHeader,
  HEADER_BOUNDS,
  maxAttemptsHeader,
  notBeforeHeader,
} from '../src/headers.js';
import { until } from './helpers.js';

describe('core headers from untrusted producers', () => {
  it('parses qk-attempt and qk-max-attempts strictly', () => {
    for (const bad of ['', ' ', '-5', '0', '2.5', '1e3', 'abc', '0x10', '99999999999999999999'])
      expect(attemptHeader({ 'qk-attempt': bad }), bad).toBe(1);
    expect(attemptHeader({ 'qk-attempt': '4' })).toBe(4);
    for (const bad of ['0', '-3', '1001', '', 'many', '3.5'])
      expect(maxAttemptsHeader({ 'qk-max-attempts': bad }, 3), bad).toBe(3);
    expect(maxAttemptsHeader({ 'qk-max-attempts': '1000' }, 3)).toBe(1000);
  });

  it('bounds qk-not-before and qk-backoff', () => {
    const now = Date.now();
    expect(notBeforeHeader({ 'qk-not-before': 'soon' }, now)).toBe(0);
    expect(notBeforeHeader({ 'qk-not-before': String(now + 1000) }, now)).toBe(now + 1000);
    expect(
      notBeforeHeader({ 'qk-not-before': String(now + HEADER_BOUNDS.maxDelayMs + 1) }, now),
    ).toBeUndefined();
    expect(backoffHeader({ 'qk-backoff': '{"type":"linear"}' })).toBeUndefined();
    expect(backoffHeader({ 'qk-backoff': '{"delay":-1}' })).toBeUndefined();
    expect(backoffHeader({ 'qk-backoff': '{"delay":1e300}' })).toBeUndefined();
    expect(backoffHeader({ 'qk-backoff': '[1]' })).toBeUndefined();
    expect(backoffHeader({ 'qk-backoff': '{"type":"fixed","delay":5}' })).toMatchObject({
      type: 'fixed',
      delay: 5,
    });
  });

  /** Send a raw message as a foreign producer would, and collect what happens to it. */
  async function forged(headers: Record<string, string>, options: { trustMessageBackoff?: boolean } = {}) {
    const broker = new MemoryBroker();
    const driver = createMemoryDriver({ broker });
    await driver.send('forged', [{ id: 'f1', name: 'forged', body: utf8('{}'), headers }]);
    const queue = createQueue({
      name: 'forged',
      driver,
      ownsDriver: true,
      defaults: { maxAttempts: 3, backoff: { type: 'fixed', delay: 30 } },
    });
    const attempts: number[] = [];
    const delays: number[] = [];
    const dead: { reason: string; error?: string }[] = [];
    queue.on('retrying', (_job, _error, delayMs) => delays.push(delayMs));
    queue.on('dead-lettered', (info) => dead.push(info));
    queue.process(async (job) => {
      attempts.push(job.attempt);
      throw new Error('always fails');
    }, options);
    await until(() => dead.length > 0 || attempts.length > 10, 'the forged job to end');
    const listed = await queue.deadLetters.list();
    await queue.close();
    return { attempts, delays, dead, listed };
  }

  it('a forged negative qk-attempt with a zero backoff runs the queue’s attempts, with the queue’s backoff', async () => {
    const got = await forged({ 'qk-attempt': '-100000', 'qk-backoff': '{"type":"fixed","delay":0}' });
    expect(got.attempts).toEqual([1, 2, 3]);
    expect(got.delays).toEqual([30, 30]);
    expect(got.dead.map((d) => d.reason)).toEqual(['max-attempts']);
  });

  it('a trusted message backoff is used, but never below the minimum retry delay', async () => {
    const got = await forged(
      { 'qk-attempt': '1', 'qk-backoff': '{"type":"fixed","delay":0}' },
      { trustMessageBackoff: true },
    );
    expect(got.attempts).toEqual([1, 2, 3]);
    expect(got.delays).toEqual([HEADER_BOUNDS.minRetryDelayMs, HEADER_BOUNDS.minRetryDelayMs]);
  });

  it('qk-max-attempts 0 falls back to the queue default instead of dead-lettering unseen', async () => {
    const got = await forged({ 'qk-max-attempts': '0' });
    expect(got.attempts).toEqual([1, 2, 3]);
  });

  it('a qk-not-before further ahead than the supported delay dead-letters as invalid-headers', async () => {
    const got = await forged({ 'qk-not-before': String(Date.now() + HEADER_BOUNDS.maxDelayMs * 2) });
    expect(got.attempts).toEqual([]);
    expect(got.dead.map((d) => d.reason)).toEqual(['invalid-headers']);
    expect(got.listed.map((r) => r.reason)).toEqual(['invalid-headers']);
  });

  it('builds job.headers without prototype, so `__proto__` is a plain key', async () => {
    const broker = new MemoryBroker();
    const driver = createMemoryDriver({ broker });
    const headers = JSON.parse('{"__proto__":{"polluted":"yes"},"x-ok":"1"}') as Record<string, string>;
    await driver.send('proto', [{ id: 'p1', name: 'forged', body: utf8('{}'), headers }]);
    const queue = createQueue({ name: 'proto', driver, ownsDriver: true });
    const seen: Job[] = [];
    queue.process(async (job) => {
      seen.push(job);
    });
    await until(() => seen.length === 1, 'the job');
    await queue.close();
    const got = seen[0]?.headers as Record<string, unknown>;
    expect(Object.getPrototypeOf(got)).toBeNull();
    expect(got['x-ok']).toBe('1');
    expect(got.polluted).toBeUndefined();
    expect(Object.keys(got).sort()).toEqual(['__proto__', 'x-ok']);
  });
});
