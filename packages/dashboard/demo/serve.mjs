// `pnpm dashboard`: the dashboard beside a demo workload, on http://127.0.0.1:3001/.
// In memory by default; any broker with QUEUE_URL (redis://, amqp://, sqs://, pubsub://, servicebus://).
// The workload is the demo's report queue (progress, results, a few failures that end in the dead
// letters) and an email queue, with one schedule each. DASHBOARD_WORKLOAD=0 only watches the queues
// (e.g. beside `pnpm demo` with the same QUEUE_URL).
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { createQueue, redactUrl, UnrecoverableError } from '@queuekit/core';
import { createDashboard, nodeHandler } from '@queuekit/dashboard';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The demo's report handler: a little work per month with progress; a customer without a name fails for good. */
async function report(job, ctx) {
  if (!job.data.customer) throw new UnrecoverableError('report request without a customer');
  const rows = [];
  for (let month = 1; month <= job.data.months; month++) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    await sleep(40 + Math.random() * 120);
    rows.push({ month, revenue: 1_000 + Math.floor(Math.random() * 9_000) });
    await ctx.progress(Math.round((month / job.data.months) * 100));
  }
  return {
    customer: job.data.customer,
    total: rows.reduce((sum, row) => sum + row.revenue, 0),
    rows: rows.length,
  };
}

async function email(job) {
  await sleep(5 + Math.random() * 30);
  if (job.data.to.endsWith('.invalid')) throw new Error(`mailbox ${job.data.to} does not exist`);
  return { delivered: true };
}

/**
 * Start the queues, the workload and the dashboard. Resolves with the address and a `stop()`.
 * @param {{ port?: number, url?: string, workload?: boolean, traffic?: boolean }} [options]
 */
export async function startDemo(options = {}) {
  const url = options.url ?? (process.env.QUEUE_URL || 'memory://');
  const workload = options.workload ?? process.env.DASHBOARD_WORKLOAD !== '0';
  const reports = createQueue({ name: 'demo-reports', url, defaults: { maxAttempts: 2 } });
  const emails = createQueue({
    name: 'demo-emails',
    url,
    defaults: { maxAttempts: 2, backoff: { type: 'fixed', delay: 200 } },
  });
  const customers = ['acme', 'globex', 'initech', 'umbrella', 'hooli', ''];
  const timers = [];
  if (workload) {
    for (const queue of [reports, emails])
      queue.on('error', (error) => console.error(`[${queue.name}] ${error.message}`));
    reports.process(report, { concurrency: 3 });
    emails.process(email, { concurrency: 5 });
    await reports.schedule('nightly-summary', { cron: '0 2 * * *', data: { customer: 'all', months: 1 } });
    await emails.schedule('digest', { every: 60_000, data: { to: 'team@example.com' } });
    let n = 0;
    const tick = async () => {
      n++;
      const customer = customers[n % customers.length];
      await reports.send('report', { customer, months: 1 + (n % 6) });
      await emails.sendBatch(
        Array.from({ length: 3 }, (_, i) => ({
          name: 'welcome',
          data: { to: n % 7 === 0 && i === 0 ? `user${n}@example.invalid` : `user${n}-${i}@example.com` },
        })),
      );
      if (n % 4 === 0) await reports.send('report', { customer: 'later', months: 2 }, { delay: 120_000 });
    };
    if (options.traffic !== false) {
      const loop = setInterval(
        () => tick().catch((error) => console.error(`[demo] ${error.message}`)),
        1_500,
      );
      timers.push(loop);
    }
    for (let i = 0; i < 8; i++) await tick();
  }

  const port = options.port ?? Number(process.env.DASHBOARD_PORT ?? 3001);
  let allowedHosts = new Set();
  const dashboard = createDashboard({
    queues: [reports, emails],
    title: 'queuekit demo',
    // A local demo: actions on. The Host check refuses DNS-rebinding pages that reach 127.0.0.1 by another name.
    allowActions: true,
    authorize: (request) => allowedHosts.has((request.headers.host ?? '').toLowerCase()),
  });
  const server = http.createServer(nodeHandler(dashboard));
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const actual = server.address().port;
  allowedHosts = new Set([`127.0.0.1:${actual}`, `localhost:${actual}`]);
  return {
    origin: `http://127.0.0.1:${actual}`,
    url: redactUrl(url),
    reports,
    emails,
    async stop() {
      for (const timer of timers) clearInterval(timer);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await Promise.all([reports.close({ timeout: 5_000 }), emails.close({ timeout: 5_000 })]);
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const demo = await startDemo();
  console.log(`queuekit dashboard on ${demo.origin}/ using ${demo.url}`);
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.once(signal, async () => {
      if (stopping) return;
      stopping = true;
      await demo.stop();
      process.exit(0);
    });
  }
}
