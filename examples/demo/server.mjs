// The 202 Accepted pattern: POST /reports queues a job and answers at once with a status URL;
// a worker (here in the same process) runs it with progress; GET /reports/:id shows its state.
// In-memory by default; any broker with QUEUE_URL (redis://, amqp://, sqs://, pubsub://, servicebus://).
//
// The HTTP checks below are the ones to keep when you copy this server:
// - Host must be one of ours (DNS rebinding: a hostile page that resolves its own name to 127.0.0.1
//   reaches this server with its own Host header), ALLOWED_HOSTS to add names behind a proxy;
// - a POST must be application/json and not cross-site (a form or a `no-cors` fetch from another
//   site can send `text/plain` without any CORS preflight);
// - the body limit counts bytes, and the body is decoded once, as strict UTF-8, at the end.
import { randomInt } from 'node:crypto';
import http from 'node:http';
import { createQueue, redactUrl } from '@queuekit/core';

const url = process.env.QUEUE_URL || 'memory://';
const port = Number(process.env.PORT ?? 3000);
const MAX_BODY_BYTES = 64 * 1024;

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
      if (v.fail !== undefined && (!Number.isInteger(v.fail) || v.fail < 0 || v.fail > 10))
        issues.push({ message: 'integer 0-10 (attempts that throw)', path: ['fail'] });
      if (issues.length) return { issues };
      const report = { customer: v.customer, months: v.months };
      return { value: v.fail ? { ...report, fail: v.fail } : report };
    },
  },
};

const queue = createQueue({
  name: 'demo-reports',
  url,
  schema: reportRequest,
  // 3 attempts, 1 s apart, so a retry and a dead letter show up within seconds.
  defaults: { maxAttempts: 3, backoff: { type: 'fixed', delay: 1_000 } },
});
queue.on('error', (error) => console.error(`[queue] ${error.message}`));
queue.on('completed', (job) => console.log(`[job] ${job.id} completed (attempt ${job.attempt})`));
queue.on('retrying', (job, error, delayMs) =>
  console.log(`[job] ${job.id} attempt ${job.attempt} failed (${error.message}); retry in ${delayMs} ms`),
);
queue.on('dead-lettered', (info) => console.log(`[job] ${info.id} dead-lettered: ${info.reason}`));

// Connect before starting the worker and the server, so a wrong QUEUE_URL stops the demo at once with the
// typed error (a ConfigError names the field; no password is ever in the message) instead of a server
// that answers 500 to every POST. Making the driver does not reach every broker (BullMQ, SQS and Service
// Bus connect on first use), so one round trip (`stats`) follows: a refused password (AuthenticationError)
// or a broker that does not answer within START_TIMEOUT_MS stops it too.
const START_TIMEOUT_MS = 15_000;
try {
  await queue.driver();
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(
      reject,
      START_TIMEOUT_MS,
      new Error(`the broker did not answer within ${START_TIMEOUT_MS} ms`),
    );
  });
  await Promise.race([queue.stats(), late]).finally(() => clearTimeout(timer));
} catch (error) {
  console.error(`queuekit demo: ${error?.name ?? 'Error'} ${error?.code ?? ''}: ${error?.message ?? error}`);
  await queue.close({ timeout: 1_000 }).catch(() => {});
  process.exit(1);
}

queue.process(
  async (job, ctx) => {
    // `"fail": n` in the request makes the first n attempts throw: 1 or 2 shows a retry, 3 a dead letter.
    if (job.attempt <= (job.data.fail ?? 0)) throw new Error(`simulated failure on attempt ${job.attempt}`);
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

/** An error that becomes an HTTP answer. */
class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function reply(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

/** Host names (with the port) this server answers to; filled in once it listens. */
let allowedHosts = new Set();

function hostsFor(actualPort) {
  const names = ['127.0.0.1', 'localhost'];
  const extra = (process.env.ALLOWED_HOSTS ?? '').split(',').map((host) => host.trim().toLowerCase());
  return new Set([...names.map((name) => `${name}:${actualPort}`), ...extra.filter(Boolean)]);
}

function checkHost(req) {
  const host = (req.headers.host ?? '').toLowerCase();
  if (!allowedHosts.has(host)) throw new HttpError(421, 'unknown Host; set ALLOWED_HOSTS to serve it');
}

/** A POST must come from this site (or from a tool such as curl, which sends neither header). */
function checkSameSite(req) {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new HttpError(403, 'cross-site request refused');
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let originHost;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = undefined;
    }
    if (originHost === undefined || !allowedHosts.has(originHost)) {
      throw new HttpError(403, 'cross-site request refused');
    }
  }
}

function checkJsonContentType(req) {
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, 'send the body as application/json');
}

/** Read the body as bytes (never keeping more than MAX_BODY_BYTES), then decode it once as strict UTF-8. */
async function readJson(req) {
  const bytes = await readBody(req);
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, 'body is not valid UTF-8');
  }
  try {
    return JSON.parse(text || '{}');
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
}

function readBody(req) {
  if (Number(req.headers['content-length']) > MAX_BODY_BYTES) {
    return Promise.reject(new HttpError(413, 'body too large'));
  }
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    const onData = (chunk) => {
      size += chunk.length; // bytes: a chunk may end in the middle of a character
      if (size <= MAX_BODY_BYTES) return chunks.push(chunk);
      req.off('data', onData);
      req.resume(); // discard the rest; the answer closes the connection
      reject(new HttpError(413, 'body too large'));
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  try {
    checkHost(req);
    const { pathname: path, searchParams } = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'POST' && path === '/reports') {
      checkSameSite(req);
      checkJsonContentType(req);
      const body = await readJson(req);
      const delay = Number(searchParams.get('delay') ?? 0); // ?delay=ms: a delayed job
      if (!Number.isInteger(delay) || delay < 0)
        throw new HttpError(400, 'delay must be a whole number of ms');
      const id = await queue.send('report', body, delay ? { delay } : {});
      return reply(res, 202, { id, status: `/reports/${id}` }, { location: `/reports/${id}` });
    }
    const match = /^\/reports\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && match) {
      // The core records state, progress, result and errors (a shared store makes this work across processes).
      const status = await queue.getJob(match[1]);
      return status ? reply(res, 200, status) : reply(res, 404, { error: 'unknown job id' });
    }
    if (req.method === 'GET' && path === '/dead-letters') {
      const records = await queue.deadLetters.list({ limit: 20 });
      return reply(
        res,
        200,
        records.map(({ id, reason, error, attempts, data }) => ({ id, reason, error, attempts, data })),
      );
    }
    if (req.method === 'GET' && path === '/') {
      return reply(res, 200, {
        usage: 'POST /reports {"customer":"acme","months":6} then GET the status URL',
        try: 'POST /reports?delay=5000 for a delayed job, {"fail":1} for a retry, {"fail":3} then GET /dead-letters',
        queue: redactUrl(url),
      });
    }
    reply(res, 404, { error: 'not found' });
  } catch (error) {
    if (error?.code === 'ERR_SCHEMA_VALIDATION') return reply(res, 400, { error: error.message });
    if (error?.code === 'ERR_PAYLOAD_TOO_LARGE') return reply(res, 413, { error: error.message });
    if (error instanceof HttpError) {
      // Stop reading a body we refused; the client gets the answer and the connection closes.
      if (!req.complete) res.setHeader('connection', 'close');
      return reply(res, error.status, { error: error.message });
    }
    console.error(`[http] ${error?.message ?? error}`);
    reply(res, 500, { error: 'internal error' });
  }
});

server.listen(port, '127.0.0.1', () => {
  const { port: actual } = /** @type {import('node:net').AddressInfo} */ (server.address());
  allowedHosts = hostsFor(actual);
  console.log(`queuekit demo on http://127.0.0.1:${actual} using ${redactUrl(url)}`);
  console.log(
    `try: curl -s -XPOST localhost:${actual}/reports -H 'content-type: application/json' -d '{"customer":"acme","months":6}'`,
  );
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
