import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDashboard, type Dashboard } from '../src/index.js';
import { launchChromium } from './browser.js';
import { eventually, type Fixture, fixture, type Served, serve } from './helpers.js';

// The brokers the issue asks for: memory, BullMQ (Redis) and RabbitMQ. Peek exists on the first two only.
const BROKERS = [
  { label: 'memory', url: () => `memory://e2e-${Math.random().toString(36).slice(2)}`, peek: true },
  { label: 'bullmq', url: () => inject('redisUrl'), peek: true },
  { label: 'rabbitmq', url: () => inject('amqpUrl'), peek: false },
] as const;

/** The page refreshes every 2 s; a loaded machine may need a few rounds. */
const POLL = { timeout: 10_000 };

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

/** The text of a counts cell of a queue's row on the overview. */
const cell = (page: Page, queue: string, field: string) =>
  page.locator(`tr[data-queue="${queue}"] td[data-field="${field}"]`);

describe.each(BROKERS)('dashboard in Chromium on $label', ({ label, url, peek }) => {
  let fx: Fixture;
  let dashboard: Dashboard;
  let served: Served;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    fx = await fixture(url(), label);
    dashboard = createDashboard({ queues: [fx.idle, fx.work], allowActions: true });
    served = await serve(dashboard);
    page = await browser.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
  });

  afterAll(async () => {
    await page?.close();
    await served?.close();
    await dashboard?.close();
    await fx?.close();
  });

  it('the overview shows the counts the queue reports', async () => {
    const stats = await fx.idle.stats();
    await page.goto(served.base);
    await expect
      .poll(() => cell(page, fx.idle.name, 'waiting').textContent(), POLL)
      .toBe(String(stats.waiting));
    expect(stats.waiting).toBe(3);
    expect(await cell(page, fx.idle.name, 'delayed').textContent()).toBe(String(stats.delayed ?? '—'));
    expect(await cell(page, fx.idle.name, 'deadLettered').textContent()).toBe(
      String(stats.deadLettered ?? '—'),
    );
    // Live: a job sent now shows up without reloading the page.
    await fx.idle.send('report', { n: 6 });
    await expect.poll(() => cell(page, fx.idle.name, 'waiting').textContent(), POLL).toBe('4');
    // From the second sample on, the rates are filled in from metrics().
    expect(await cell(page, fx.work.name, 'completedRate').textContent()).toMatch(/^\d+(\.\d)?\/min$/);
  });

  it('the queue page lists waiting jobs where the broker can peek, and says so where it cannot', async () => {
    await page.goto(`${served.base}#/queue/${fx.idle.name}`);
    if (peek) {
      await expect.poll(() => page.locator('tr[data-job]').count(), POLL).toBeGreaterThanOrEqual(4);
    } else {
      const note = page.locator('.peek-unsupported');
      await note.waitFor();
      expect(await note.textContent()).toMatch(/cannot show waiting jobs/);
    }
    expect(await page.locator('.tile[data-field="waiting"] .value').textContent()).toBe('4');
  });

  it('a redrive from the page brings the dead-lettered job back, and it completes', async () => {
    const id = await fx.deadLetter();
    await page.goto(`${served.base}#/queue/${fx.work.name}/dead`);
    const row = page.locator(`tr[data-job="${id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('unrecoverable');
    expect(await row.textContent()).toContain('report 99 has no customer');
    fx.state.fixed = true;
    await row.locator('input[type=checkbox]').check();
    await page.locator('#redrive-selected').click();
    await page.locator('.ok', { hasText: '1 job(s) sent back' }).waitFor();
    await eventually(() => fx.seen.completed.has(id), 15_000);
    expect((await fx.work.getJob(id))?.state).toBe('completed');
    await page.locator('.empty').waitFor();
  });

  it('a purge asks first: Cancel keeps the dead letters, Confirm deletes them', async () => {
    fx.state.fixed = false;
    const id = await fx.deadLetter();
    await page.goto(`${served.base}#/queue/${fx.work.name}/dead`);
    await page.locator(`tr[data-job="${id}"]`).waitFor();
    const dialog = page.locator('dialog#confirm');
    await page.locator('#purge-all').click();
    await dialog.waitFor({ state: 'visible' });
    expect(await page.locator('#confirm-text').textContent()).toContain('cannot be undone');
    await page.locator('#confirm-cancel').click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await fx.work.deadLetters.list()).map((record) => record.id)).toEqual([id]);

    await page.locator('#purge-all').click();
    await dialog.waitFor({ state: 'visible' });
    await page.locator('#confirm-ok').click();
    await page.locator('.ok', { hasText: '1 dead-lettered job(s) deleted' }).waitFor();
    await eventually(async () => (await fx.work.deadLetters.list()).length === 0);
  });

  it('the schedules page shows each schedule with its next run', async () => {
    await fx.work.schedule('nightly', { cron: '0 3 * * *', data: { n: 1 } });
    try {
      const next = (await fx.work.schedules.list()).find((s) => s.name === 'nightly')?.nextRunAt;
      expect(next?.getUTCHours()).toBe(3);
      await page.goto(`${served.base}#/schedules`);
      const row = page.locator('#schedules tr[data-schedule="nightly"]');
      await row.waitFor();
      expect(await row.textContent()).toContain('cron 0 3 * * * (UTC)');
      const shown = await row.locator('[data-field="nextRunAt"]').textContent();
      expect(shown).toBe(
        await page.evaluate((iso) => new Date(iso).toLocaleString(), next?.toISOString() ?? ''),
      );
    } finally {
      await fx.work.schedules.remove('nightly');
    }
  });

  it('a job lookup shows its state, progress and result', async () => {
    fx.state.fixed = true;
    const id = await fx.complete(5);
    await page.goto(`${served.base}#/jobs`);
    await page.locator('#job-id').fill(id);
    await page.locator('form.lookup button').click();
    const state = page.locator('#job [data-field="state"]');
    await state.waitFor();
    expect(await state.textContent()).toBe('completed');
    expect(await page.locator('#job [data-field="progress"]').textContent()).toContain('50%');
    expect(JSON.parse((await page.locator('#job [data-field="result"]').textContent()) ?? '')).toEqual({
      total: 50,
      rows: 5,
    });

    // A job that failed for good: its state, error and reason.
    fx.state.fixed = false;
    const failed = await fx.deadLetter();
    await page.locator('#job-id').fill(failed);
    await page.locator('form.lookup button').click();
    await page.locator(`#job [data-field="state"]`, { hasText: 'failed' }).waitFor();
    const text = (await page.locator('#job').textContent()) ?? '';
    expect(text).toContain('report 99 has no customer');
    expect(text).toContain('unrecoverable');
    expect(pageErrors).toEqual([]);
  });
});

describe('the queue page in Chromium', () => {
  it('draws completed and failed per minute once it has three samples', async () => {
    const fx = await fixture(`memory://trend-${Math.random().toString(36).slice(2)}`, 'trend');
    const dashboard = createDashboard({ queues: [fx.idle, fx.work] });
    const served = await serve(dashboard);
    const page = await browser.newPage();
    try {
      await fx.complete(1);
      await page.goto(`${served.base}#/queue/${fx.work.name}`);
      await expect.poll(() => page.locator('svg.trend polyline').count(), POLL).toBe(2);
      expect(await page.locator('main').textContent()).toMatch(/\d+(\.\d)?\/min completed/);
    } finally {
      await page.close();
      await served.close();
      await fx.close();
    }
  });
});
