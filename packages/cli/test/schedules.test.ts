import { createQueue } from '@queuekit/core';
import { createRedisStore } from '@queuekit/store-redis';
import { afterAll, describe, expect, it } from 'vitest';
import { json, queueName, runCli } from './helpers.js';

const storeUrl = process.env.QUEUEKIT_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('queuekit schedules (store on Redis)', () => {
  const prefix = `${queueName('qk-cli-store')}:`;
  const store = createRedisStore({ url: storeUrl, prefix });
  const q = queueName();
  const owner = createQueue<{ report: string }>({ name: q, url: 'memory://cli-schedules', store });

  afterAll(async () => {
    await owner.schedules.remove('nightly');
    await owner.schedules.remove('heartbeat');
    await owner.close();
    for (const key of await store.keys('')) await store.delete(key);
    await store.close();
  });

  it('lists the schedules the workers share, in a table and in JSON', async () => {
    await owner.schedule('nightly', { cron: '0 3 * * *', tz: 'Europe/Paris', data: { report: 'sales' } });
    await owner.schedule('heartbeat', { every: 60_000, data: { report: 'ping' }, jobName: 'ping' });
    const env = { QUEUE_STORE_URL: storeUrl };

    const listed = json<{ queue: string; schedules: Record<string, unknown>[] }>(
      await runCli(['schedules', q, '--store-prefix', prefix, '--json'], env),
    );
    expect(listed.queue).toBe(q);
    const byName = Object.fromEntries(listed.schedules.map((schedule) => [schedule.name, schedule]));
    expect(byName.nightly).toEqual({
      name: 'nightly',
      cron: '0 3 * * *',
      every: null,
      tz: 'Europe/Paris',
      jobName: 'nightly',
      data: { report: 'sales' },
      lastRunAt: null,
      nextRunAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(byName.heartbeat).toMatchObject({ cron: null, every: 60_000, tz: null, jobName: 'ping' });

    const table = await runCli(['schedules', q, '--store', storeUrl, '--store-prefix', prefix]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+WHEN\s+JOB NAME\s+NEXT RUN\s+LAST RUN\s+DATA\n/);
    expect(table.stdout).toMatch(/nightly\s+cron 0 3 \* \* \* \(Europe\/Paris\)\s+nightly\s+\d{4}-/);
    expect(table.stdout).toMatch(/heartbeat\s+every 1m\s+ping\s+/);

    const other = await runCli(['schedules', queueName(), '--store-prefix', prefix], env);
    expect(other.stdout).toMatch(/^No schedules for cli-\w+\.\n$/);
  });

  it('fails fast when the store is down', async () => {
    const result = await runCli(['schedules', q, '--store', 'redis://127.0.0.1:1', '--timeout', '2000']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^queuekit: .*\n$/);
    expect(result.ms).toBeLessThan(15_000);
  });
});
