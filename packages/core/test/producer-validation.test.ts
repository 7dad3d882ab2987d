import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  createMemoryDriver,
  createQueue,
  EncodeError,
  MemoryBroker,
  type OutgoingMessage,
  QueuekitError,
} from '../src/index.js';
import { wrapDriver } from './wrap.js';

const fresh = () => createMemoryDriver({ broker: new MemoryBroker() });

describe('send refuses what it cannot send, with a typed error, and sends nothing', () => {
  it('a BigInt payload is an EncodeError naming where it is', async () => {
    const queue = createQueue<unknown>({ name: 'enc', driver: fresh(), ownsDriver: true });
    const error = await queue.send('x', { n: 10n }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EncodeError);
    expect(error).toMatchObject({ code: 'ERR_ENCODE' });
    expect((error as Error).message).toMatch(/BigInt at data\.n/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(queue.sendBatch([{ name: 'x', data: cyclic }])).rejects.toMatchObject({
      code: 'ERR_ENCODE',
      message: expect.stringMatching(/circular reference at data\.self/),
    });
    expect((await queue.stats()).waiting).toBe(0);
    await queue.close();
  });

  it('a custom codec that throws a TypeError surfaces as an EncodeError', async () => {
    const codec = {
      contentType: 'x/test',
      encode: () => {
        throw new TypeError('nope');
      },
      decode: () => null,
    };
    const queue = createQueue<unknown>({ name: 'enc2', driver: fresh(), ownsDriver: true, codec });
    await expect(queue.send('x', 1)).rejects.toSatisfy(
      (e: unknown) =>
        e instanceof QueuekitError && e.code === 'ERR_ENCODE' && /nope/.test((e as Error).message),
    );
    await queue.close();
  });

  it('refuses `qk-` headers in any case and the driver’s reserved names, naming the header', async () => {
    const sent: OutgoingMessage[][] = [];
    const inner = fresh();
    const driver = wrapDriver(inner, {
      reservedHeaders: ['x-delivery-count'],
      send: async (queue: string, messages: readonly OutgoingMessage[]) => {
        sent.push([...messages]);
        await inner.send(queue, messages);
      },
    });
    const queue = createQueue<unknown>({ name: 'hdr', driver });
    for (const name of [
      'QK-attempt',
      'Qk-Max-Attempts',
      'X-Delivery-Count',
      'x-delivery-count',
      'Content-Type',
    ]) {
      const error = await queue.send('x', 1, { headers: { [name]: '1' } }).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe(`options.headers.${name}`);
      await expect(
        queue.sendBatch([{ name: 'x', data: 1, options: { headers: { [name]: '1' } } }]),
      ).rejects.toBeInstanceOf(ConfigError);
    }
    for (const headers of [JSON.parse('{"__proto__": "x"}') as Record<string, string>, { '': 'x' }]) {
      await expect(queue.send('x', 1, { headers })).rejects.toBeInstanceOf(ConfigError);
    }
    expect(sent).toEqual([]);
    await queue.send('x', 1, { headers: { 'x-mine': 'ok' } });
    expect(sent.flat()[0]?.headers).toMatchObject({ 'x-mine': 'ok', 'qk-attempt': '1' });
    await queue.close();
    await inner.close();
  });
});

describe('durations past 2^31-1 ms are a ConfigError naming the field', () => {
  const big = 2 ** 31;
  it.each([
    ['rateLimit.duration', { rateLimit: { max: 1, duration: big } }],
    ['defaults.backoff.delay', { defaults: { backoff: { delay: big } } }],
    ['defaults.backoff.maxDelay', { defaults: { backoff: { maxDelay: big } } }],
    ['maxDelayHop', { maxDelayHop: big }],
  ])('%s', (field, options) => {
    expect(() => createQueue({ name: 'dur', driver: fresh(), ...options })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG', field }),
    );
  });

  it('lockDuration, pollInterval and schedule.every too; 2^31-1 itself is accepted', async () => {
    const queue = createQueue<unknown>({ name: 'dur2', driver: fresh(), ownsDriver: true });
    expect(() => queue.process(async () => undefined, { lockDuration: big })).toThrow(
      expect.objectContaining({ field: 'lockDuration' }),
    );
    expect(() => queue.process(async () => undefined, { pollInterval: big })).toThrow(
      expect.objectContaining({ field: 'pollInterval' }),
    );
    await expect(queue.schedule('s', { every: big, data: 1 })).rejects.toMatchObject({
      field: 'schedule.every',
    });
    expect(() =>
      createQueue({ name: 'dur3', driver: fresh(), rateLimit: { max: 1, duration: big - 1 } }),
    ).not.toThrow();
    await queue.close();
  });
});

describe('send refuses values a consumer would take for forged headers', () => {
  it('maxAttempts above 1000 (options and defaults), delay or runAt beyond 10 years', async () => {
    expect(() => createQueue({ name: 'bounds', driver: fresh(), defaults: { maxAttempts: 1001 } })).toThrow(
      expect.objectContaining({ field: 'defaults.maxAttempts' }),
    );
    const queue = createQueue<number>({ name: 'bounds', driver: fresh(), ownsDriver: true });
    const year = 365 * 24 * 3_600_000;
    await expect(queue.send('x', 1, { maxAttempts: 1001 })).rejects.toMatchObject({
      field: 'options.maxAttempts',
    });
    await expect(queue.send('x', 1, { delay: 10 * year + 1 })).rejects.toMatchObject({
      field: 'options.delay',
    });
    await expect(queue.send('x', 1, { runAt: new Date(Date.now() + 11 * year) })).rejects.toMatchObject({
      field: 'options.runAt',
    });
    expect(() =>
      queue.process(async () => undefined, { trustMessageBackoff: 'yes' as unknown as boolean }),
    ).toThrow(expect.objectContaining({ field: 'trustMessageBackoff' }));
    expect((await queue.stats()).waiting).toBe(0);
    await queue.send('x', 1, { maxAttempts: 1000, delay: 9 * year });
    expect((await queue.stats()).delayed).toBe(1);
    await queue.close();
  });
});

describe('options that are not options are refused by name, not ignored', () => {
  const error = (run: () => unknown) => {
    try {
      const result = run();
      return result instanceof Promise
        ? result.then(
            () => undefined,
            (e: unknown) => e,
          )
        : undefined;
    } catch (e) {
      return e;
    }
  };

  it('a misspelt or misplaced key in send, sendBatch, process, createQueue, defaults or backoff', async () => {
    const queue = createQueue<unknown>({ name: 'unknown-keys', driver: fresh(), ownsDriver: true });
    const cases: [() => unknown, string][] = [
      [() => queue.send('x', {}, { delya: 5 } as never), 'options.delya'],
      [() => queue.send('x', {}, { id: 'a' } as never), 'options.id'],
      [() => queue.send('x', {}, { backoff: { type: 'fixed', dealy: 1 } } as never), 'options.backoff.dealy'],
      [
        () => queue.sendBatch([{ name: 'x', data: 1, options: { prio: 1 } as never }]),
        'entries[0].options.prio',
      ],
      [() => queue.process(async () => undefined, { concurency: 10 } as never), 'concurency'],
      [() => createQueue({ name: 'q', defualts: {} } as never), 'defualts'],
      [() => createQueue({ name: 'q', defaults: { attempts: 5 } } as never), 'defaults.attempts'],
    ];
    for (const [run, field] of cases) {
      const e = await error(run);
      expect(e, field).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).message, field).toContain(`\`${field}\`: unknown option`);
    }
    expect((await queue.stats()).waiting).toBe(0);
    await queue.close();
  });

  it('options that are not an object, and batch entries that are not { name, data }', async () => {
    const queue = createQueue<unknown>({ name: 'entry-shapes', driver: fresh(), ownsDriver: true });
    const cases: [() => unknown, string][] = [
      [() => queue.send('x', {}, 5 as never), 'options'],
      [() => queue.send('x', {}, 'fast' as never), 'options'],
      [() => queue.sendBatch([null as never]), 'entries[0]'],
      [() => queue.sendBatch([{ name: 'a', data: 1 }, 'b' as never]), 'entries[1]'],
      [() => queue.sendBatch([{ data: 1 } as never]), 'entries[0].name'],
      [() => queue.sendBatch([{ name: 'a', data: 1, options: 5 as never }]), 'entries[0].options'],
    ];
    for (const [run, field] of cases) {
      const e = await error(run);
      expect(QueuekitError.is(e, 'ERR_CONFIG'), field).toBe(true);
      expect((e as ConfigError).message, field).toContain(`\`${field}\``);
    }
    // Every option it does take is still taken.
    const id = await queue.send(
      'x',
      {},
      {
        delay: 0,
        priority: 1,
        maxAttempts: 2,
        backoff: { type: 'fixed', delay: 1, maxDelay: 2, jitter: 0 },
        headers: { a: 'b' },
      },
    );
    expect(typeof id).toBe('string');
    expect((await queue.stats()).waiting).toBe(1);
    await queue.close();
  });
});
