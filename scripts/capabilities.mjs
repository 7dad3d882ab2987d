#!/usr/bin/env node
// Builds docs/capabilities.md from what the conformance suites recorded during `pnpm test`:
// each package's reports/capabilities-*.json (the driver's declared capabilities) and
// reports/vitest.json (vitest's JSON reporter). Every cell says how a feature is provided (native,
// emulated by the core, or refused with a typed error) and whether the case proving it passed.
//   node scripts/capabilities.mjs          write docs/capabilities.md
//   node scripts/capabilities.mjs --check  fail when the committed file differs from the results
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const target = join(root, 'docs', 'capabilities.md');

const kb = (bytes) =>
  bytes >= 1024 * 1024 ? `${+(bytes / 1024 / 1024).toFixed(2)} MiB` : `${Math.round(bytes / 1024)} KiB`;
const duration = (ms) =>
  ms >= 86_400_000
    ? `${+(ms / 86_400_000).toFixed(1)} days`
    : ms >= 3_600_000
      ? `${+(ms / 3_600_000).toFixed(1)} h`
      : ms >= 60_000
        ? `${+(ms / 60_000).toFixed(1)} min`
        : `${+(ms / 1000).toFixed(1)} s`;

/** Feature rows: how to describe the driver's support, and the cases (titles) that prove it. */
const features = [
  [
    'At-least-once after a crash',
    () => 'core',
    ['a job whose worker dies mid-job is delivered again after the lock expires (at-least-once)'],
  ],
  [
    'Retries, backoff, attempts across redelivery',
    () => 'core',
    [
      'counts attempts 1..N across redeliveries, then dead-letters with the reason and last error',
      'waits the exponential backoff between attempts (lower bound exact, upper bound loose)',
    ],
  ],
  [
    'Dead letters: list, redrive, purge',
    (c) => (c.deadLetter === 'native' ? 'native' : 'emulated'),
    [
      'lists, redrives (with a fresh attempt count) and purges dead letters',
      'redrive() without ids moves every dead letter back',
    ],
  ],
  [
    'Delay / runAt',
    (c) => (c.maxDelayMs === 'Infinity' ? 'native' : `native ≤ ${duration(c.maxDelayMs)}, longer: core hops`),
    [
      'a delayed job is not delivered before its delay',
      'a job with runAt is not delivered before that time',
      'a delay longer than one native delay hops and is still honoured',
    ],
  ],
  [
    'Priority 0-9',
    (c) => ({ native: 'native', emulated: 'emulated (priority bands)', none: 'typed error' })[c.priority],
    [
      'serves waiting jobs by priority, higher first (native or emulated), or refuses priority with a typed error',
      'strict mode keeps native priority and refuses emulated priority with a typed error',
    ],
  ],
  [
    'Dedup by jobId',
    (c) => (c.dedup ? 'native' : 'typed error'),
    ['deduplicates by jobId where declared, and refuses jobId with a typed error where not'],
  ],
  [
    'Ordering key',
    (c) => (c.ordering ? 'native' : 'typed error'),
    ['keeps order per ordering key where declared, and refuses the key with a typed error where not'],
  ],
  [
    'Batch send',
    (c) => (c.maxBatchSize > 1 ? `native (≤ ${c.maxBatchSize})` : 'core (one by one)'),
    ['sendBatch sends every entry, or none when one entry is invalid'],
  ],
  [
    'Lock extension for long jobs',
    (c) =>
      c.lockRenewal
        ? 'native renewal'
        : c.redelivery === 'connection'
          ? 'not needed (connection-bound)'
          : 'none',
    ['a handler longer than its lock keeps the job through automatic lock extension'],
  ],
  [
    'Concurrency bound',
    () => 'core',
    ['never has more than `concurrency` jobs in flight, and uses all of it'],
  ],
  [
    'Graceful close',
    () => 'core',
    ['close() drains in-flight jobs, and jobs sent during close are not lost'],
  ],
  [
    'Payload limit (checked before sending)',
    (c) => kb(c.maxPayloadBytes),
    [
      'an oversize payload throws PayloadTooLargeError before the network call, and nothing is sent',
      'a payload near the size limit arrives intact',
    ],
  ],
  [
    'Schema validation, undecodable messages',
    () => 'core',
    [
      'a payload failing the schema on send throws SchemaValidationError and nothing is sent',
      'a payload invalid for the consumer schema is dead-lettered as `invalid-payload`',
      'an undecodable raw message is dead-lettered as `undecodable` and the worker goes on',
    ],
  ],
  [
    'Job status (getJob), progress, result',
    (_c, w) => (w.jobs ? 'native (broker job data)' : 'core (store)'),
    ['getJob() answers state, progress, result, error, attempts and timestamps'],
  ],
  [
    'Recurring jobs',
    (_c, w) => (w.schedules ? 'native (broker schedulers)' : 'core (store leases)'),
    [
      'a recurring job runs once per tick across several consumers, and can be listed and removed',
      'a tick missed while no consumer ran is run once when a consumer starts',
    ],
  ],
  [
    'Rate limit shared by consumers',
    (_c, w) => (w.rateLimit ? 'native (broker limiter)' : 'core (store)'),
    ['a rate limit is shared by every consumer of the queue'],
  ],
  [
    'Fan-out / reduce',
    (_c, w) => (w.fanOut ? 'native (broker flows)' : 'core (store)'),
    ['fanOut splits items into chunks and enqueues one reduce job with every result and the failed chunks'],
  ],
  [
    'Chained jobs',
    (c, w) =>
      w.atomicFollowUps ? 'atomic with the ack' : c.dedup ? 'core, deduplicated ids' : 'core, at-least-once',
    ['a handler can chain its follow-up job, sent only when it succeeds'],
  ],
  [
    'Retry-after',
    () => 'core',
    [
      'a RetryAfterError brings the job back after that delay without using an attempt',
      'a RetryAfterError configured to count uses attempts and dead-letters at maxAttempts',
    ],
  ],
  [
    'Crash loop ends in the dead letters (real worker processes)',
    (c) =>
      c.deliveryCount === 'flag' ? 'core (broker only flags redelivery)' : 'core (broker delivery count)',
    [
      'a job that kills its worker process every time runs as attempts 1..maxAttempts, then is dead-lettered once as `max-attempts`',
      'a job that kills its worker twice, then succeeds, runs as attempts 1, 2, 3 and completes once',
    ],
  ],
  [
    'Lost lock: one more delivery, no extra copy',
    (c) =>
      c.redelivery === 'connection' ? 'connection-bound' : c.lockRenewal ? 'lock renewal' : 'lock timeout',
    [
      'a lock lost mid-handler aborts ctx.signal, the late ack fails with LockLostError, and the job runs exactly once more',
      'a handler that throws after losing its lock leaves no extra copy: the job runs exactly once more',
      'completed jobs stay completed: no second delivery after twice the lock, and counts go back to 0',
    ],
  ],
  [
    'Mixed load: dead letters hold exactly the failing jobs',
    () => 'core',
    [
      'a mixed load (200 jobs, 2% always failing, 10% failing once, concurrency 8) loses nothing and dead-letters exactly the failing jobs, each once',
    ],
  ],
  [
    'Redrive resets attempts',
    () => 'core',
    [
      'redrive resets attempts: a job dead-lettered at attempt 2 runs again as 1, 2 and is dead-lettered again',
    ],
  ],
  [
    'Delays applied by the driver, exact hops, retry-after bound',
    (c) => (c.maxDelayMs === 'Infinity' ? 'native' : `native ≤ ${duration(c.maxDelayMs)}`),
    [
      'the driver applies a delay within its native maximum itself: no core parks, not early, not late',
      'a delay of 2.9 hops takes exactly 2 core parks (maxDelayHop), and is neither early nor late',
      'a RetryAfterError comes back after its delay, within a bound',
    ],
  ],
  [
    'Ordering under batches, concurrent sends and retries',
    (c) => (c.ordering ? 'native' : 'typed error'),
    [
      'sendBatch larger than maxBatchSize keeps the order of each key',
      'concurrent sends of one key are delivered in the order they were called',
      'a retry inside a key (backoff or RetryAfterError) runs before the later jobs of that key',
    ],
  ],
  [
    'Forged core headers neither loop nor crash',
    () => 'core',
    [
      'a forged `qk-attempt` (empty, negative, huge, not a number) neither loops nor crashes the worker',
      'a forged `qk-max-attempts` (0, negative) or `qk-not-before` (1e15, garbage) neither loops nor parks forever',
      'a `__proto__` header replaces no prototype and the job is handled once',
    ],
  ],
  [
    'Close timeout: the job comes back',
    () => 'core',
    [
      'close({ timeout }) shorter than a running job aborts its signal, and the job comes back at its next attempt',
    ],
  ],
  [
    'Consumer started while the broker is unreachable',
    () => 'core (retry loop)',
    ['a consumer started on an unreachable broker consumes once the broker is reachable'],
  ],
  [
    'Workflow state under faults (default store, removed schedules, fan-out crash, rate-limit throughput)',
    (_c, w) => (w.schedules || w.fanOut || w.rateLimit ? 'native and core (store)' : 'core (store)'),
    [
      'two queues of one name without a `store` option share job records and schedules in one process',
      'a removed schedule stays removed while consumers keep ticking',
      'a fan-out survives a crash between two store calls and runs its reduce exactly once',
      'a rate limit reaches a lower bound of throughput, not only an upper one',
    ],
  ],
  [
    'Trace context across the broker',
    () => 'core (headers)',
    ['carries the W3C trace context from the sender through the broker into the handler span'],
  ],
  // Fault rows: the suite's `describeFaultConformance` (the adapter's test/faults.test.ts), same name after
  // `faults: `. Through a TCP proxy in front of the broker, or a simulated network for memory.
  [
    'Faults: every connection reset mid-stream',
    faultPath,
    ['every connection reset mid-stream loses nothing sent and the consumer resumes'],
  ],
  [
    'Faults: broker unreachable for 4 s, then back',
    faultPath,
    ['a broker unreachable for 4 s, then back, loses nothing sent and the consumer resumes'],
  ],
  [
    'Faults: black hole longer than a send timeout',
    faultPath,
    [
      'a black hole longer than a send timeout: sends fail typed or complete, bounded, and nothing sent is lost',
    ],
  ],
  [
    'Faults: 200 ms of added latency each way',
    faultPath,
    ['200 ms of added latency each way loses nothing and keeps delays'],
  ],
  [
    'Faults: close() during an outage',
    faultPath,
    [
      'close() during an outage (unreachable broker) returns within its timeout and loses nothing acknowledged',
      'close() during an outage (black hole) returns within its timeout and loses nothing acknowledged',
    ],
  ],
];

/** How a fault row's faults reach the driver: a TCP proxy, or (memory, no network) a simulated one. */
function faultPath(_capabilities, _workflows, provider) {
  return provider === 'memory' ? 'simulated network' : 'TCP proxy';
}

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

const suites = new Map(); // suite name -> { package, provider, capabilities, results: Map<title, status> }
const packagesDir = join(root, 'packages');
for (const pkg of readdirSync(packagesDir).sort()) {
  const reports = join(packagesDir, pkg, 'reports');
  if (!existsSync(reports)) continue;
  const results = existsSync(join(reports, 'vitest.json'))
    ? readJson(join(reports, 'vitest.json'))
    : { testResults: [] };
  for (const file of readdirSync(reports)
    .filter((f) => f.startsWith('capabilities-'))
    .sort()) {
    const { suite, provider, capabilities, workflows = {} } = readJson(join(reports, file));
    const faultSuite = suite.replace(/^conformance: /, 'faults: ');
    const statuses = new Map();
    const faultStatuses = new Map();
    for (const testFile of results.testResults ?? []) {
      for (const assertion of testFile.assertionResults ?? []) {
        const top = assertion.ancestorTitles?.[0];
        if (top === suite) statuses.set(assertion.title, assertion.status);
        else if (top === faultSuite) faultStatuses.set(assertion.title, assertion.status);
      }
    }
    suites.set(suite, { pkg, provider, capabilities, workflows, statuses, faultStatuses });
  }
}

if (suites.size === 0) {
  console.error('capabilities: no reports found; run `pnpm test` first');
  process.exit(1);
}

const providerOrder = ['memory', 'bullmq', 'rabbitmq', 'sqs', 'pubsub', 'servicebus'];
const rank = (provider) =>
  providerOrder.includes(provider) ? providerOrder.indexOf(provider) : providerOrder.length;
const columns = [...suites.entries()].sort(
  ([a, x], [b, y]) => rank(x.provider) - rank(y.provider) || a.length - b.length || a.localeCompare(b),
);
const mark = (suite, cases) => {
  const seen = cases.map((title) => suite.statuses.get(title) ?? suite.faultStatuses.get(title));
  if (seen.some((s) => s === undefined)) return '❔ not run';
  if (seen.some((s) => s === 'failed')) return '❌ failed';
  if (seen.some((s) => s !== 'passed')) return '⏭️ skipped';
  return '✅';
};

const lines = [
  '# Capabilities',
  '',
  'Generated by `node scripts/capabilities.mjs` from the conformance results of `pnpm test`; CI fails when this',
  'file differs from them. Each cell: how the feature is provided for that driver (native, by the core, or',
  'refused with a typed error), then ✅ when every case proving it passed against the real broker or emulator.',
  '',
  `| feature | ${columns.map(([suite]) => suite.replace(/^conformance: /, '')).join(' | ')} |`,
  `|---|${columns.map(() => '---').join('|')}|`,
];
for (const [feature, describe, cases] of features) {
  const cells = columns.map(
    ([, s]) => `${describe(s.capabilities, s.workflows, s.provider)} ${mark(s, cases)}`,
  );
  lines.push(`| ${feature} | ${cells.join(' | ')} |`);
}
lines.push('', '## Cases behind each row', '');
for (const [feature, , cases] of features)
  lines.push(`- **${feature}**: ${cases.map((c) => `“${c}”`).join('; ')}`);
lines.push('', '## Suites', '');
const count = (statuses) => {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  for (const status of statuses.values())
    counts[status === 'passed' ? 'passed' : status === 'failed' ? 'failed' : 'skipped']++;
  return `${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`;
};
for (const [suite, s] of columns) {
  lines.push(
    `- \`${suite}\` (packages/${s.pkg}, provider \`${s.provider}\`): ${count(s.statuses)}; faults: ${s.faultStatuses.size > 0 ? count(s.faultStatuses) : 'not run'}`,
  );
}
const text = `${lines.join('\n')}\n`;

if (process.argv.includes('--check')) {
  const committed = existsSync(target) ? readFileSync(target, 'utf8') : '';
  if (committed !== text) {
    console.error(
      'capabilities: docs/capabilities.md differs from the test results. Run `node scripts/capabilities.mjs` and commit it.',
    );
    process.exit(1);
  }
  console.log(`capabilities: docs/capabilities.md matches the results of ${columns.length} suites`);
} else {
  writeFileSync(target, text);
  console.log(`capabilities: wrote docs/capabilities.md (${columns.length} suites)`);
}
