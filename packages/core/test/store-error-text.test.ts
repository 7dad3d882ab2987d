import { describe, expect, it } from 'vitest';
import {
  capErrorText,
  createMemoryDriver,
  createQueue,
  MAX_ERROR_TEXT,
  MemoryBroker,
  MemoryStore,
} from '../src/index.js';
import { until } from './helpers.js';

describe('error text kept by the core is capped', () => {
  it('capErrorText cuts to MAX_ERROR_TEXT characters, marked, never inside a surrogate pair', () => {
    expect(capErrorText('short')).toBe('short');
    const cut = capErrorText('x'.repeat(100_000));
    expect(cut.length).toBeLessThanOrEqual(MAX_ERROR_TEXT);
    expect(cut).toMatch(/^x+ … \[100000 characters, cut\]$/);
    const emoji = capErrorText('😀'.repeat(5_000));
    expect(emoji.length).toBeLessThanOrEqual(MAX_ERROR_TEXT);
    expect(emoji.split(' … ')[0]).toMatch(/^(😀)+$/u);
  });

  it('a job record keeps at most MAX_ERROR_TEXT characters of a huge handler error', async () => {
    const driver = createMemoryDriver({ broker: new MemoryBroker() });
    const queue = createQueue<null>({ name: 'huge-error', driver, store: new MemoryStore() });
    let dead = false;
    queue.on('dead-lettered', () => {
      dead = true;
    });
    queue.process(async () => {
      throw new Error(`upstream said: ${'<html>'.repeat(50_000)}`);
    });
    const id = await queue.send('x', null, { maxAttempts: 1 });
    await until(() => dead, 'the dead letter', 10_000);
    const record = await until(
      async () => (await queue.getJob(id))?.state === 'failed',
      'the failed record',
    ).then(() => queue.getJob(id));
    expect(record?.error?.startsWith('upstream said: <html>')).toBe(true);
    expect(record?.error?.length).toBeLessThanOrEqual(MAX_ERROR_TEXT);
    await queue.close();
    await driver.close();
  });
});
