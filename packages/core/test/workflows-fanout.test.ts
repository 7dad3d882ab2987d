import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  createMemoryDriver,
  createQueue,
  type Driver,
  ForgedMessageError,
  type Job,
  MemoryBroker,
  MemoryStore,
  type Queue,
  type ReduceData,
  utf8,
} from '../src/index.js';
import type { Store } from '../src/store/types.js';
import { until } from './helpers.js';
import { failingOnce } from './wrap.js';

let seq = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++seq}`;

interface Setup {
  driver: Driver;
  store: Store;
  open: Queue<unknown>[];
}

function setup(store: Store = new MemoryStore(), maxPayloadBytes?: number): Setup {
  return {
    driver: createMemoryDriver({
      broker: new MemoryBroker(),
      ...(maxPayloadBytes ? { maxPayloadBytes } : {}),
    }),
    store,
    open: [],
  };
}

function queueOf<T>(s: Setup, name: string): Queue<T> {
  const queue = createQueue<T>({ name, driver: s.driver, store: s.store });
  s.open.push(queue as Queue<unknown>);
  return queue;
}

async function teardown(s: Setup): Promise<void> {
  for (const queue of s.open) await queue.close({ timeout: 1_000 });
  await s.driver.close();
}

/** A reducer on `name` collecting the reduce jobs it gets. */
function reducer(s: Setup, name: string): Job<ReduceData<number>>[] {
  const got: Job<ReduceData<number>>[] = [];
  queueOf<ReduceData<number>>(s, name).process(async (job) => {
    got.push(job);
  });
  return got;
}

const sum = async (job: Job<number[]>) => job.data.reduce((a, b) => a + b, 0);

describe('fan-out through the store', () => {
  it('a crash between recording a chunk and counting it still sends the reduce, once', async () => {
    const s = setup();
    s.store = failingOnce(s.store, 'increment', /:done$/);
    const chunks = queueOf<number[]>(s, unique('fan'));
    const errors: Error[] = [];
    chunks.on('error', (error) => errors.push(error));
    chunks.process(sum, { lockDuration: 200, concurrency: 2 });
    const reduceQueue = unique('reduce');
    const reduced = reducer(s, reduceQueue);
    const items = Array.from({ length: 20 }, (_, i) => i);
    const { parentId } = await chunks.fanOut('sum', items, { chunkSize: 5, reduce: reduceQueue });
    await until(() => reduced.length >= 1, 'the reduce job', 15_000);
    // A later job on the reduce queue proves no second reduce was queued behind the first.
    await queueOf<ReduceData<number>>(s, reduceQueue).send('sentinel', {
      parentId: 'x',
      results: [],
      failed: [],
    });
    await until(() => reduced.some((r) => r.name === 'sentinel'), 'the sentinel', 10_000);
    const reduces = reduced.filter((r) => r.name !== 'sentinel');
    expect(reduces).toHaveLength(1);
    expect(reduces[0]?.data).toEqual({ parentId, results: [10, 35, 60, 85], failed: [] });
    expect(errors.some((e) => /injected increment failure/.test(e.message))).toBe(true);
    await teardown(s);
  });

  it('a store failure after the handler hands the chunk back at once, not after its lock expires', async () => {
    // A connection-bound broker (RabbitMQ) never redelivers an unsettled delivery while the connection lives;
    // a lock far longer than the deadline stands in for it here.
    const s = setup();
    s.store = failingOnce(s.store, 'increment', /:done$/);
    const chunks = queueOf<number[]>(s, unique('fan'));
    const errors: Error[] = [];
    const failures: Error[] = [];
    chunks.on('error', (error) => errors.push(error));
    chunks.on('failed', (_job, error) => failures.push(error));
    chunks.process(sum, { lockDuration: 120_000 });
    const reduceQueue = unique('reduce');
    const reduced = reducer(s, reduceQueue);
    const { parentId } = await chunks.fanOut('sum', [1, 2, 3, 4], { chunkSize: 2, reduce: reduceQueue });
    await until(() => reduced.length >= 1, 'the reduce job', 10_000);
    expect(reduced[0]?.data).toEqual({ parentId, results: [3, 7], failed: [] });
    expect(errors.some((e) => /injected increment failure/.test(e.message))).toBe(true);
    expect(failures).toHaveLength(1);
    await teardown(s);
  });

  it('a store failing once after the reduce was sent does not send a second one (no dedup)', async () => {
    const s = setup();
    s.driver = createMemoryDriver({ broker: new MemoryBroker(), limitCapabilities: { dedup: false } });
    s.store = failingOnce(s.store, 'set', /:reduced$/);
    const chunks = queueOf<number[]>(s, unique('fan'));
    let completed = 0;
    chunks.on('completed', () => completed++);
    chunks.process(sum, { lockDuration: 200 });
    const reduceQueue = unique('reduce');
    const reduced = reducer(s, reduceQueue);
    await chunks.fanOut('sum', [1, 2, 3, 4], { chunkSize: 1, reduce: reduceQueue });
    // Every chunk settles (the last one only after its bookkeeping), then nothing else is queued.
    await until(() => completed >= 4, 'every chunk completed', 30_000);
    await queueOf<ReduceData<number>>(s, reduceQueue).send('sentinel', {
      parentId: 'x',
      results: [],
      failed: [],
    });
    await until(() => reduced.some((r) => r.name === 'sentinel'), 'the sentinel', 10_000);
    expect(reduced.filter((r) => r.name !== 'sentinel').map((r) => r.data.results)).toEqual([[1, 2, 3, 4]]);
    await teardown(s);
  });

  it('forged chunk indexes are ignored (error event) and never fire the reduce early', async () => {
    const s = setup();
    const name = unique('fan');
    const chunks = queueOf<number[]>(s, name);
    const forged: Error[] = [];
    chunks.on('error', (error) => {
      if (error instanceof ForgedMessageError) forged.push(error);
    });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    chunks.process(
      async (job) => {
        if (job.name === 'sum') await gate;
        return Array.isArray(job.data) ? job.data.reduce((a, b) => a + b, 0) : -1;
      },
      { concurrency: 4 },
    );
    const reduceQueue = unique('reduce');
    const reduced = reducer(s, reduceQueue);
    const { parentId } = await chunks.fanOut('sum', [1, 2, 3, 4], { chunkSize: 2, reduce: reduceQueue });
    const forge = (id: string, index: string) => ({
      id,
      name: 'forged',
      body: utf8('[100]'),
      headers: {
        'qk-name': 'forged',
        'qk-attempt': '1',
        'qk-fanout-parent': parentId,
        'qk-fanout-index': index,
      },
    });
    await s.driver.send(name, [
      forge('f1', '2'),
      forge('f2', '-1'),
      forge('f3', '99'),
      forge('f4', 'x'),
      forge('f5', '1.5'),
    ]);
    await until(() => forged.length >= 5, 'five forged chunks reported', 10_000);
    expect(reduced).toHaveLength(0);
    open();
    await until(() => reduced.length >= 1, 'the reduce job', 10_000);
    expect(reduced[0]?.data).toEqual({ parentId, results: [3, 7], failed: [] });
    await teardown(s);
  });

  it('validates parentId, reduce and chunkSize up front, and sends nothing', async () => {
    const s = setup();
    const chunks = queueOf<number[]>(s, unique('fan'));
    const cases: [string, Record<string, unknown>][] = [
      ['parentId', { parentId: 'p'.repeat(122) }],
      ['parentId', { parentId: 'has space' }],
      ['parentId', { parentId: '' }],
      ['parentId', { parentId: 'a:b' }],
      ['reduce', { reduce: '' }],
      ['reduce', { reduce: 'not a queue!' }],
      ['reduce', { reduce: 'r'.repeat(81) }],
      ['chunkSize', { chunkSize: 0 }],
    ];
    for (const [field, override] of cases) {
      const error = await chunks
        .fanOut('sum', [1, 2], { chunkSize: 1, reduce: 'ok', ...override })
        .catch((e: unknown) => e);
      expect(error, JSON.stringify(override)).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).field).toBe(field);
    }
    expect((await chunks.stats()).waiting).toBe(0);
    await teardown(s);
  });

  it('a reduce that can never be sent (over the payload limit) is reported and the chunks settle', async () => {
    const s = setup(new MemoryStore(), 2_000);
    const chunks = queueOf<number[]>(s, unique('fan'));
    const errors: Error[] = [];
    chunks.on('error', (error) => errors.push(error));
    let completed = 0;
    chunks.on('completed', () => completed++);
    chunks.process(async () => 'x'.repeat(600), { lockDuration: 200 });
    const { parentId } = await chunks.fanOut('big', [1, 2, 3, 4], { chunkSize: 1, reduce: unique('reduce') });
    await until(() => completed >= 4, 'every chunk completed', 10_000);
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(new RegExp(`fan-out ${parentId}: its reduce job cannot be sent`)),
    ]);
    await until(async () => (await chunks.stats()).waiting === 0, 'no chunk redelivered', 5_000);
    await teardown(s);
  });

  it('keys are scoped by queue: one parentId on two queues sharing a store makes two fan-outs', async () => {
    const s = setup();
    const a = queueOf<number[]>(s, unique('fan-a'));
    const b = queueOf<number[]>(s, unique('fan-b'));
    a.process(sum);
    b.process(sum);
    const reduceA = unique('reduce-a');
    const reduceB = unique('reduce-b');
    const gotA = reducer(s, reduceA);
    const gotB = reducer(s, reduceB);
    await a.fanOut('sum', [1, 2, 3, 4], { chunkSize: 2, reduce: reduceA, parentId: 'same' });
    await b.fanOut('sum', [10, 20, 30], { chunkSize: 1, reduce: reduceB, parentId: 'same' });
    await until(() => gotA.length >= 1 && gotB.length >= 1, 'both reduces', 10_000);
    expect(gotA[0]?.data.results).toEqual([3, 7]);
    expect(gotB[0]?.data.results).toEqual([10, 20, 30]);
    await teardown(s);
  });
});
