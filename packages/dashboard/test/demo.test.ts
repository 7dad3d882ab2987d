import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { eventually } from './helpers.js';

interface Demo {
  readonly origin: string;
  stop(): Promise<void>;
}

// What `pnpm dashboard` runs (the built package, as a user gets it).
const SERVE = fileURLToPath(new URL('../demo/serve.mjs', import.meta.url));

describe('pnpm dashboard (demo/serve.mjs)', () => {
  it('serves the dashboard over the demo workload on memory, and refuses another Host', async () => {
    const { startDemo } = (await import(SERVE)) as {
      startDemo(options: { port: number; url: string; traffic: boolean }): Promise<Demo>;
    };
    const demo = await startDemo({ port: 0, url: 'memory://demo-test', traffic: false });
    try {
      const overview = await eventually(async () => {
        const body = (await (await fetch(`${demo.origin}/api/overview`)).json()) as {
          queues: { name: string; completed: number; deadLettered?: number }[];
        };
        const reports = body.queues.find((queue) => queue.name === 'demo-reports');
        return reports && reports.completed > 0 && (reports.deadLettered ?? 0) > 0 ? body : undefined;
      }, 15_000);
      expect(overview.queues.map((queue) => queue.name)).toEqual(['demo-reports', 'demo-emails']);
      const schedules = (await (await fetch(`${demo.origin}/api/schedules`)).json()) as {
        schedules: { name: string }[];
      };
      expect(schedules.schedules.map((s) => s.name).sort()).toEqual(['digest', 'nightly-summary']);
      const page = await fetch(`${demo.origin}/`);
      expect(await page.text()).toContain('name="queuekit-actions" content="on"');
      // DNS rebinding: a page on another name that resolves to 127.0.0.1 is refused.
      const { request } = await import('node:http');
      const status = await new Promise<number | undefined>((resolve, reject) => {
        const req = request(`${demo.origin}/api/overview`, { headers: { host: 'evil.example' } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        });
        req.once('error', reject);
        req.end();
      });
      expect(status).toBe(403);
    } finally {
      await demo.stop();
    }
  });
});
