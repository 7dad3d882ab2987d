// The 202 Accepted pattern: POST /reports queues a job and answers at once with a status URL;
// a worker (here in the same process) runs it with progress; GET /reports/:id shows its state.
// In-memory by default; any broker with QUEUE_URL (redis://, amqp://, sqs://, pubsub://, servicebus://).
import { randomInt } from 'node:crypto';
import http from 'node:http';
import { createQueue, redactUrl } from '@queuekit/core';

const url = process.env.QUEUE_URL || 'memory://';
const port = Number(process.env.PORT ?? 3000);

/** @type {import('@queuekit/core').StandardSchemaV1<unknown, { customer: string; months: number }>} */
const reportRequest = {
  '~standard': {
    version: 1,
    vendor: 'demo',
    validate(value) {
      const issues = [];
      const v = /** @type {Record<string, unknown>} */ (value ?? {});
      if (typeof v.customer !== 'string' || v.customer.length === 0)
        issues.push({ message: 'required string', path: ['customer'] });
      if (!Number.isInteger(v.months) || v.months < 1 || v.months > 24)
        issues.push({ message: 'integer 1-24', path: ['months'] });
      return issues.length ? { issues } : { value: { customer: v.customer, months: v.months } };
    },
  },
};

const queue = createQueue({ name: 'demo-reports', url, schema: reportRequest });
queue.on('error', (error) => console.error(`[queue] ${error.message}`));

queue.process(
  async (job, ctx) => {
    const rows = [];
    for (let month = 1; month <= job.data.months; month++) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      await new Promise((resolve) => setTimeout(resolve, 100)); // the "heavy" part
      rows.push({ month, revenue: randomInt(1_000, 10_000) });
      await ctx.progress(Math.round((month / job.data.months) * 100));
    }
    return {
      customer: job.data.customer,
      total: rows.reduce((sum, r) => sum + r.revenue, 0),
      rows: rows.length,
    };
  },
  { concurrency: 4 },
);

function reply(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

async function readJson(req) {
  let text = '';
  for await (const chunk of req) {
    text += chunk;
    if (text.length > 64 * 1024) throw Object.assign(new Error('body too large'), { status: 413 });
  }
  try {
    return JSON.parse(text || '{}');
  } catch {
    throw Object.assign(new Error('body is not valid JSON'), { status: 400 });
  }
}

const server = http.createServer(async (req, res) => {
  try {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method === 'POST' && path === '/reports') {
      const body = await readJson(req);
      const id = await queue.send('report', body);
      return reply(res, 202, { id, status: `/reports/${id}` }, { location: `/reports/${id}` });
    }
    const match = /^\/reports\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && match) {
      // The core records state, progress, result and errors (a shared store makes this work across processes).
      const status = await queue.getJob(match[1]);
      return status ? reply(res, 200, status) : reply(res, 404, { error: 'unknown job id' });
    }
    if (req.method === 'GET' && path === '/') {
      return reply(res, 200, {
        usage: 'POST /reports {"customer":"acme","months":6} then GET the status URL',
        queue: redactUrl(url),
      });
    }
    reply(res, 404, { error: 'not found' });
  } catch (error) {
    if (error?.code === 'ERR_SCHEMA_VALIDATION') return reply(res, 400, { error: error.message });
    reply(res, error?.status ?? 500, { error: error?.message ?? 'internal error' });
  }
});

server.listen(port, '127.0.0.1', () => {
  const { port: actual } = /** @type {import('node:net').AddressInfo} */ (server.address());
  console.log(`queuekit demo on http://127.0.0.1:${actual} using ${redactUrl(url)}`);
  console.log(`try: curl -s -XPOST localhost:${actual}/reports -d '{"customer":"acme","months":6}'`);
});

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, async () => {
    if (stopping) return;
    stopping = true;
    server.close();
    await queue.close({ timeout: 10_000 });
    process.exit(0);
  });
}
