// Regenerates the README's screenshots (docs/*.png) from the demo workload, in Debian's Chromium:
//   pnpm --filter @queuekit/dashboard build && node packages/dashboard/demo/screenshots.mjs
// With AMQP_URL (a RabbitMQ vhost of its own) it also photographs a queue page where the broker cannot peek.
import { fileURLToPath } from 'node:url';
import { launchChromium } from './chromium.mjs';
import { startDemo } from './serve.mjs';

const docs = fileURLToPath(new URL('../docs/', import.meta.url));
const browser = await launchChromium();

/** The demo workload in memory: every main page. */
async function photographDemo() {
  const demo = await startDemo({ port: 0, url: 'memory://screenshots' });
  const completed = [];
  demo.reports.on('completed', (job) => completed.push(job.id));
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 }, deviceScaleFactor: 1 });
    await page.goto(`${demo.origin}/`);
    // Let the page collect a few samples, so the rates are filled in.
    const deadline = Date.now() + 15_000;
    while ((await page.locator('td[data-field="completedRate"]').first().textContent()) === '—') {
      if (Date.now() > deadline) throw new Error('no rate after 15 s');
      await page.waitForTimeout(250);
    }
    await page.waitForTimeout(4_000);
    const shots = [
      ['overview', '#/'],
      ['queue', '#/queue/demo-reports'],
      ['dead-letters', '#/queue/demo-reports/dead'],
      ['job', `#/jobs/${completed.at(-1)}`],
      ['schedules', '#/schedules'],
    ];
    for (const [name, hash] of shots) {
      await page.goto(`${demo.origin}/${hash}`);
      await page.locator('main h1').waitFor();
      await page.waitForTimeout(2_500);
      await page.screenshot({ path: `${docs}${name}.png`, fullPage: name === 'queue' });
      console.log(`docs/${name}.png`);
    }
  } finally {
    await demo.stop();
  }
}

/** A queue page on RabbitMQ, which cannot peek. */
async function photographRabbitmq() {
  const rabbit = await startDemo({ port: 0, url: process.env.AMQP_URL });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 }, deviceScaleFactor: 1 });
    await page.goto(`${rabbit.origin}/#/queue/demo-reports`);
    await page.locator('.peek-unsupported').waitFor();
    await page.waitForTimeout(7_000); // a few samples for the throughput chart
    await page.screenshot({ path: `${docs}queue-rabbitmq.png` });
    console.log('docs/queue-rabbitmq.png');
  } finally {
    await rabbit.stop();
  }
}

try {
  await photographDemo();
  if (process.env.AMQP_URL) await photographRabbitmq();
} finally {
  await browser.close();
}
