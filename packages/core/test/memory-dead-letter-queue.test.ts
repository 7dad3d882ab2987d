import { describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue, MemoryBroker, UnrecoverableError } from '../src/index.js';
import { until } from './helpers.js';

describe('dead letters kept in an ordinary queue (memory driver with deadLetterQueue, the kit underneath)', () => {
  it('dead-letters, lists, redrives and purges through the queue API', async () => {
    const broker = new MemoryBroker();
    const driver = createMemoryDriver({ broker, deadLetterQueue: true });
    expect(driver.deadLetterQueue?.queueOf('jobs')).toBe('jobs-dlq');
    expect(driver.capabilities.deadLetter).toBe('emulated');
    const queue = createQueue<{ n: number }>({ name: 'jobs', driver, ownsDriver: true, results: false });
    let failing = true;
    const ran: number[] = [];
    queue.process(async (job) => {
      ran.push(job.data.n);
      if (failing) throw new UnrecoverableError(`no ${job.data.n}`);
    });
    await queue.sendBatch([1, 2].map((n) => ({ name: 'job', data: { n } })));
    const listed = await until(async () => {
      const found = await queue.deadLetters.list();
      return found.length === 2 ? found : undefined;
    }, 'two dead letters');
    expect(listed.map((d) => d.data?.n).sort()).toEqual([1, 2]);
    expect(listed[0]).toMatchObject({ reason: 'unrecoverable', attempts: 1 });
    expect(listed[0]?.error).toMatch(/^no \d$/);
    expect((await queue.stats()).deadLettered).toBe(2);
    // The dead letters sit in an ordinary queue of the broker.
    expect(broker.counts('jobs-dlq').waiting).toBe(2);

    failing = false;
    const first = listed[0]?.id ?? '';
    expect(await queue.deadLetters.redrive([first])).toBe(1);
    await until(() => (ran.length === 3 ? true : undefined), 'the redriven job to run');
    expect((await queue.deadLetters.list()).map((d) => d.id)).toEqual([listed[1]?.id]);
    expect(await queue.deadLetters.purge()).toBe(1);
    expect(await queue.deadLetters.list()).toEqual([]);
    await queue.close();
  });
});
