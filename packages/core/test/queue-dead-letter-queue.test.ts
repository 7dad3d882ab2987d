import { describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue, MemoryBroker, UnrecoverableError } from '../src/index.js';
import { until } from './helpers.js';
import { wrapDriver } from './wrap.js';

describe('dead letters kept in an ordinary queue (driver.deadLetterQueue)', () => {
  it("the queue lists, redrives and purges them itself, without the driver's own methods", async () => {
    const inner = createMemoryDriver({ broker: new MemoryBroker(), deadLetterQueue: true });
    const refuse = async () => {
      throw new Error('the core must not call this for a driver with a dead-letter queue hook');
    };
    const driver = wrapDriver(inner, {
      listDeadLetters: refuse,
      redriveDeadLetters: refuse,
      purgeDeadLetters: refuse,
    });
    const queue = createQueue<{ n: number }>({ name: 'dlq-hook', driver, ownsDriver: true });
    const errors: Error[] = [];
    queue.on('error', (error) => errors.push(error));
    const ran: number[] = [];
    let failing = true;
    queue.process(async (job) => {
      ran.push(job.data.n);
      if (failing) throw new UnrecoverableError(`bad ${job.data.n}`);
    });
    const [first] = await queue.sendBatch([
      { name: 'a', data: { n: 1 } },
      { name: 'b', data: { n: 2 } },
    ]);
    await until(async () => (await queue.deadLetters.list()).length === 2, 'two dead letters');
    const listed = await queue.deadLetters.list();
    expect(listed.map((d) => d.reason)).toEqual(['unrecoverable', 'unrecoverable']);
    expect(listed.map((d) => d.data?.n).sort()).toEqual([1, 2]);
    failing = false;
    expect(await queue.deadLetters.redrive([first as string])).toBe(1);
    await until(() => ran.filter((n) => n === 1).length === 2, 'the redriven job to run again');
    expect(await queue.deadLetters.purge()).toBe(1);
    expect(await queue.deadLetters.list()).toEqual([]);
    await queue.close();
    expect(errors).toEqual([]);
  });
});
