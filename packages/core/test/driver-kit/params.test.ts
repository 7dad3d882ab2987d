import { describe, expect, expectTypeOf, it } from 'vitest';
import { param, parseParams } from '../../src/driver-kit/index.js';
import { ConfigError } from '../../src/errors.js';

const specs = {
  prefetch: param.int({ min: 1, max: 1000, default: 10 }),
  timeout: param.ms({ min: 0, max: 60_000 }),
  tls: param.bool({ default: false }),
  queueType: param.enum(['classic', 'quorum'], { default: 'classic' }),
  vhost: param.string({ pattern: /^[\w-]+$/ }),
  password: param.string(),
};

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseParams', () => {
  it('parses a URL query with types and defaults', () => {
    const parsed = parseParams(
      new URL('amqp://h/?prefetch=50&timeout=5s&tls&queueType=quorum').searchParams,
      specs,
    );
    expect(parsed).toEqual({ prefetch: 50, timeout: 5_000, tls: true, queueType: 'quorum' });
    expectTypeOf(parsed.prefetch).toEqualTypeOf<number>();
    expectTypeOf(parsed.timeout).toEqualTypeOf<number | undefined>();
    expectTypeOf(parsed.queueType).toEqualTypeOf<'classic' | 'quorum'>();
    expectTypeOf(parsed.tls).toEqualTypeOf<boolean>();
  });

  it('parses an options object the same way', () => {
    expect(parseParams({ prefetch: 3, timeout: 250, tls: true, vhost: 'a-b' }, specs)).toEqual({
      prefetch: 3,
      timeout: 250,
      tls: true,
      queueType: 'classic',
      vhost: 'a-b',
    });
  });

  it('accepts duration units', () => {
    const ms = { t: param.ms() };
    expect(parseParams({ t: '250ms' }, ms).t).toBe(250);
    expect(parseParams({ t: '2m' }, ms).t).toBe(120_000);
    expect(parseParams({ t: '1.5s' }, ms).t).toBe(1_500);
    expect(parseParams({ t: '1h' }, ms).t).toBe(3_600_000);
  });

  it.each([
    ['prefetch', 'prefetch=0', /integer \(1\.\.1000\)/],
    ['prefetch', 'prefetch=1e3', /integer/],
    ['prefetch', 'prefetch=', /integer/],
    ['timeout', 'timeout=61s', /duration/],
    ['timeout', 'timeout=soon', /duration/],
    ['tls', 'tls=maybe', /true or false/],
    ['queueType', 'queueType=stream', /one of classic, quorum/],
    ['vhost', 'vhost=a/b', /matching/],
  ])('throws a ConfigError naming %s for %s', (field, query, reason) => {
    const error = configError(() => parseParams(new URLSearchParams(query), specs));
    expect(error.field).toBe(field);
    expect(error.message).toMatch(reason);
  });

  it('names the field with its prefix and never echoes a secret value', () => {
    const error = configError(() =>
      parseParams({ password: 42 as unknown as string }, specs, { fieldPrefix: 'url.' }),
    );
    expect(error.field).toBe('url.password');
    expect(error.message).not.toContain('42');
    const shown = configError(() => parseParams({ vhost: 'x y' }, specs));
    expect(shown.message).toContain('`x y`');
  });

  it('refuses a parameter given twice', () => {
    expect(configError(() => parseParams(new URLSearchParams('tls=1&tls=0'), specs)).field).toBe('tls');
  });

  it('applies the unknown-parameter policy', () => {
    const query = new URLSearchParams('prefetch=2&prefech=3');
    const error = configError(() => parseParams(query, specs));
    expect(error.field).toBe('prefech');
    expect(error.message).toContain('prefetch');
    expect(parseParams(query, specs, { unknown: 'ignore' }).prefetch).toBe(2);
    const told: string[] = [];
    parseParams(query, specs, { unknown: (name) => told.push(name) });
    expect(told).toEqual(['prefech']);
  });
});
