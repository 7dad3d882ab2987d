// queuekit dashboard page: plain DOM, no framework, no build step. Every value from the API is put in
// the page as text (never as HTML), so a payload cannot inject markup or script.

const REFRESH_MS = 2000;
const RATE_WINDOW_MS = 60_000;
const TREND_WINDOW_MS = 5 * 60_000;
const TERMINAL = new Set(['completed', 'failed']);

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.getAttribute('content') ?? '';
const actionsOn = meta('queuekit-actions') === 'on';
const csrf = meta('queuekit-csrf');

const view = document.getElementById('view');
const statusLine = document.getElementById('status');

/** `el('td', { class: 'n' }, 'text', child)`: attributes, then text or nodes as children. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const svgNs = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}) {
  const node = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, body) {
  const init =
    body === undefined
      ? { headers: { accept: 'application/json' } }
      : {
          method: 'POST',
          headers: {
            accept: 'application/json',
            'content-type': 'application/json',
            'x-queuekit-csrf': csrf,
          },
          body: JSON.stringify(body),
        };
  const response = await fetch(`api/${path}`, { credentials: 'same-origin', cache: 'no-store', ...init });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(
      response.status,
      data.error?.code ?? 'ERR_HTTP',
      data.error?.message ?? response.statusText,
    );
  }
  return data;
}

const q = encodeURIComponent;
const fmtCount = (value) => (value === undefined || value === null ? '—' : String(value));
const fmtTime = (text) => (text ? new Date(text).toLocaleString() : '—');
function fmtMs(ms) {
  if (ms === undefined || ms === null || !Number.isFinite(ms)) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
function fmtEvery(ms) {
  if (ms % 3_600_000 === 0) return `every ${ms / 3_600_000} h`;
  if (ms % 60_000 === 0) return `every ${ms / 60_000} min`;
  return `every ${ms / 1000} s`;
}

// Rates: the API gives counters since the queue object started; the page keeps a minute of samples.
const samples = new Map();
function sample(queue, time) {
  const list = samples.get(queue.name) ?? [];
  if (list.length > 0 && time <= list[list.length - 1].t) return;
  list.push({ t: time, completed: queue.completed ?? 0, failed: queue.failed ?? 0 });
  while (list.length > 2 && time - list[0].t > TREND_WINDOW_MS) list.shift();
  samples.set(queue.name, list);
}
function perMinute(name, field) {
  const list = samples.get(name) ?? [];
  if (list.length < 2) return undefined;
  const last = list[list.length - 1];
  const first = list.find((entry) => last.t - entry.t <= RATE_WINDOW_MS) ?? list[0];
  const elapsed = last.t - first.t;
  if (elapsed <= 0) return undefined;
  return ((last[field] - first[field]) / elapsed) * 60_000;
}

/** Completed and failed per minute between successive samples, over the last five minutes. */
function trend(name, { width = 520, height = 70 } = {}) {
  const list = samples.get(name) ?? [];
  const points = list.slice(1).map((entry, i) => {
    const previous = list[i];
    const minutes = (entry.t - previous.t) / 60_000;
    return {
      t: entry.t,
      completed: Math.max(0, (entry.completed - previous.completed) / minutes),
      failed: Math.max(0, (entry.failed - previous.failed) / minutes),
    };
  });
  const chart = svg('svg', {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    class: 'trend',
    role: 'img',
    'aria-label': 'completed and failed jobs per minute, last five minutes',
  });
  if (points.length < 2) {
    const note = svg('text', { x: width / 2, y: height / 2 + 4, class: 'axis', 'text-anchor': 'middle' });
    note.textContent = 'collecting samples…';
    chart.append(note);
    return chart;
  }
  const max = Math.max(1, ...points.map((p) => Math.max(p.completed, p.failed)));
  const start = points[0].t;
  const span = Math.max(1, points[points.length - 1].t - start);
  for (const field of ['completed', 'failed']) {
    const coordinates = points
      .map(
        (p) =>
          `${(((p.t - start) / span) * (width - 4) + 2).toFixed(1)},${(height - 2 - (p[field] / max) * (height - 6)).toFixed(1)}`,
      )
      .join(' ');
    chart.append(svg('polyline', { points: coordinates, class: `line ${field}` }));
  }
  return chart;
}
const fmtRate = (rate) =>
  rate === undefined ? '—' : `${rate < 10 ? rate.toFixed(1) : Math.round(rate)}/min`;

/** Bars of the processing-time histogram: jobs per bucket (the API's buckets are cumulative). */
function histogram(duration, { width = 160, height = 36, labels = false } = {}) {
  const buckets = duration?.buckets ?? [];
  const counts = buckets.map((bucket, i) => bucket.count - (i > 0 ? buckets[i - 1].count : 0));
  const max = Math.max(1, ...counts);
  const chart = svg('svg', {
    width,
    height: height + (labels ? 14 : 0),
    viewBox: `0 0 ${width} ${height + (labels ? 14 : 0)}`,
    class: 'histogram',
    role: 'img',
    'aria-label': `processing time: ${duration?.count ?? 0} jobs`,
  });
  const step = width / Math.max(1, counts.length);
  counts.forEach((count, i) => {
    const h = count === 0 ? 0 : Math.max(2, (count / max) * (height - 2));
    const bar = svg('rect', {
      x: i * step + 1,
      y: height - h,
      width: Math.max(1, step - 2),
      height: h,
      class: 'bar',
    });
    const le = buckets[i].le;
    const title = svg('title');
    title.textContent = `${count} jobs ≤ ${le === null || !Number.isFinite(le) ? '∞' : fmtMs(le)}`;
    bar.append(title);
    chart.append(bar);
    if (labels && i % 2 === 0) {
      const text = svg('text', {
        x: i * step + step / 2,
        y: height + 11,
        class: 'axis',
        'text-anchor': 'middle',
      });
      text.textContent = le === null || !Number.isFinite(le) ? '∞' : fmtMs(le).replace(' ', '');
      chart.append(text);
    }
  });
  return chart;
}

const mean = (duration) => (duration?.count ? duration.sumMs / duration.count : undefined);

function setStatus(text, kind = '') {
  statusLine.textContent = text;
  statusLine.className = `status ${kind}`;
}

function notice(text, kind = 'note') {
  return el('p', { class: kind, role: kind === 'error' ? 'alert' : undefined }, text);
}

/** Ask before a destructive action with the page's own dialog; resolves true on Confirm. */
function confirmAction(text) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.returnValue = 'cancel';
    dialog.showModal();
  });
}

// Views. Each returns { load(), render(data) } and is refreshed every REFRESH_MS while shown.

function overviewView() {
  return {
    load: () => api('overview'),
    render(data) {
      const now = Date.parse(data.time) || Date.now();
      for (const queue of data.queues) if (!queue.error) sample(queue, Date.now());
      const rows = data.queues.map((queue) => {
        const link = el('a', { href: `#/queue/${q(queue.name)}` }, queue.name);
        if (queue.error) {
          return el(
            'tr',
            { 'data-queue': queue.name },
            el('td', {}, link),
            el('td', {}, queue.provider),
            el('td', { colspan: 8, class: 'error' }, queue.error),
          );
        }
        return el(
          'tr',
          { 'data-queue': queue.name },
          el('td', {}, link),
          el('td', {}, queue.provider),
          el('td', { class: 'n', 'data-field': 'waiting' }, fmtCount(queue.waiting)),
          el('td', { class: 'n', 'data-field': 'delayed' }, fmtCount(queue.delayed)),
          el('td', { class: 'n', 'data-field': 'active' }, fmtCount(queue.active)),
          el(
            'td',
            { class: 'n', 'data-field': 'deadLettered' },
            el('a', { href: `#/queue/${q(queue.name)}/dead` }, fmtCount(queue.deadLettered)),
          ),
          el(
            'td',
            { class: 'n', 'data-field': 'completedRate' },
            fmtRate(perMinute(queue.name, 'completed')),
          ),
          el('td', { class: 'n', 'data-field': 'failedRate' }, fmtRate(perMinute(queue.name, 'failed'))),
          el('td', { class: 'n' }, fmtMs(mean(queue.processingDuration))),
          el('td', {}, histogram(queue.processingDuration)),
        );
      });
      return [
        el('h1', {}, 'Queues'),
        el(
          'table',
          { class: 'grid', id: 'queues' },
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              ...[
                'Queue',
                'Broker',
                'Waiting',
                'Delayed',
                'Active',
                'Dead letters',
                'Completed',
                'Failed',
                'Mean time',
                'Processing time',
              ].map((label) => el('th', {}, label)),
            ),
          ),
          el('tbody', {}, rows),
        ),
        el(
          'p',
          { class: 'muted' },
          'Rates and processing times count the jobs handled by this process since it started; counts come from the broker. ',
          `Updated ${new Date(now).toLocaleTimeString()}.`,
        ),
      ];
    },
  };
}

function jobsTable(jobs, columns) {
  return el(
    'table',
    { class: 'grid' },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        columns.map((column) => el('th', {}, column.label)),
      ),
    ),
    el(
      'tbody',
      {},
      jobs.map((job) =>
        el(
          'tr',
          { 'data-job': job.id },
          columns.map((column) => el('td', { class: column.className }, column.value(job))),
        ),
      ),
    ),
  );
}

const payloadCell = (text) =>
  text === undefined ? el('span', { class: 'muted' }, 'undecodable') : el('code', { class: 'payload' }, text);

function queueView(name) {
  return {
    load: async () => {
      const [queue, waiting] = await Promise.all([
        api(`queues/${q(name)}`),
        api(`queues/${q(name)}/waiting?limit=50`),
      ]);
      return { queue, waiting };
    },
    render({ queue, waiting }) {
      if (!queue.error) sample(queue, Date.now());
      const tiles = [
        ['Waiting', queue.waiting, 'waiting'],
        ['Delayed', queue.delayed, 'delayed'],
        ['Active', queue.active, 'active'],
        ['Dead letters', queue.deadLettered, 'deadLettered'],
        ['Completed', queue.completed, 'completed'],
        ['Failed attempts', queue.failed, 'failed'],
      ].map(([label, value, field]) =>
        el(
          'div',
          { class: 'tile', 'data-field': field },
          el('span', { class: 'value' }, fmtCount(value)),
          el('span', { class: 'label' }, label),
        ),
      );
      const waitingSection = waiting.supported
        ? waiting.jobs.length === 0
          ? notice('No job is waiting.', 'muted')
          : jobsTable(waiting.jobs, [
              { label: 'Id', value: (job) => job.id, className: 'id' },
              { label: 'Name', value: (job) => job.name },
              { label: 'Priority', value: (job) => job.priority, className: 'n' },
              { label: 'Attempt', value: (job) => job.attempt, className: 'n' },
              { label: 'Enqueued', value: (job) => fmtTime(job.enqueuedAt) },
              { label: 'Runs at', value: (job) => fmtTime(job.runAt) },
              { label: 'Payload', value: (job) => payloadCell(job.data) },
            ])
        : notice(waiting.note, 'note peek-unsupported');
      return [
        el('p', { class: 'crumbs' }, el('a', { href: '#/' }, 'Queues'), ' / ', name),
        el('h1', {}, name, ' ', el('span', { class: 'muted' }, queue.provider)),
        queue.error ? notice(queue.error, 'error') : el('div', { class: 'tiles' }, tiles),
        el(
          'div',
          { class: 'links' },
          el('a', { href: `#/queue/${q(name)}/dead`, class: 'button' }, 'Dead letters'),
          el('a', { href: `#/schedules`, class: 'button' }, 'Schedules'),
        ),
        el('h2', {}, 'Throughput'),
        el(
          'p',
          {},
          `${fmtRate(perMinute(name, 'completed'))} completed, ${fmtRate(perMinute(name, 'failed'))} failed attempts (last minute, while this page is open)`,
        ),
        trend(name),
        el('h2', {}, 'Processing time'),
        el(
          'p',
          {},
          `${queue.processingDuration?.count ?? 0} jobs, mean ${fmtMs(mean(queue.processingDuration))}, max ${fmtMs(queue.processingDuration?.maxMs)}`,
        ),
        histogram(queue.processingDuration, { width: 520, height: 90, labels: true }),
        el('h2', {}, 'Waiting jobs'),
        waitingSection,
      ];
    },
  };
}

function deadLettersView(name) {
  const selected = new Set();
  let message;
  const act = async (path, body, done) => {
    try {
      const answer = await api(`queues/${q(name)}/dead-letters/${path}`, body);
      message = notice(done(answer), 'ok');
      selected.clear();
    } catch (error) {
      message = notice(`${error.message} (${error.code})`, 'error');
    }
    refresh();
  };
  return {
    load: () => api(`queues/${q(name)}/dead-letters?limit=200`),
    render(data) {
      const items = data.items;
      for (const id of [...selected]) if (!items.some((item) => item.id === id)) selected.delete(id);
      const buttons = actionsOn
        ? el(
            'div',
            { class: 'actions' },
            el(
              'button',
              {
                id: 'redrive-selected',
                disabled: selected.size === 0,
                onclick: () =>
                  act('redrive', { ids: [...selected] }, (a) => `${a.redriven} job(s) sent back to ${name}.`),
              },
              `Redrive selected (${selected.size})`,
            ),
            el(
              'button',
              {
                id: 'redrive-all',
                disabled: items.length === 0,
                onclick: async () => {
                  if (await confirmAction(`Send every dead-lettered job of ${name} back to the queue?`))
                    act('redrive', { all: true }, (a) => `${a.redriven} job(s) sent back to ${name}.`);
                },
              },
              'Redrive all',
            ),
            el(
              'button',
              {
                id: 'purge-all',
                class: 'danger',
                disabled: items.length === 0,
                onclick: async () => {
                  if (
                    await confirmAction(`Delete every dead-lettered job of ${name}? This cannot be undone.`)
                  )
                    act('purge', { confirm: name }, (a) => `${a.purged} dead-lettered job(s) deleted.`);
                },
              },
              'Purge all',
            ),
          )
        : notice(
            'Read-only: redrive and purge are off (the host app enables them with allowActions).',
            'note read-only',
          );
      const table =
        items.length === 0
          ? notice('No dead-lettered job.', 'muted empty')
          : jobsTable(items, [
              ...(actionsOn
                ? [
                    {
                      label: '',
                      value: (job) =>
                        el('input', {
                          type: 'checkbox',
                          'aria-label': `select ${job.id}`,
                          checked: selected.has(job.id),
                          onchange: (event) => {
                            if (event.target.checked) selected.add(job.id);
                            else selected.delete(job.id);
                            refresh();
                          },
                        }),
                    },
                  ]
                : []),
              {
                label: 'Id',
                value: (job) => el('a', { href: `#/jobs/${q(job.id)}` }, job.id),
                className: 'id',
              },
              { label: 'Name', value: (job) => job.name },
              { label: 'Reason', value: (job) => el('span', { class: 'tag' }, job.reason) },
              { label: 'Error', value: (job) => job.error ?? '—', className: 'error-text' },
              { label: 'Attempts', value: (job) => job.attempts, className: 'n' },
              { label: 'Dead-lettered', value: (job) => fmtTime(job.deadLetteredAt) },
              { label: 'Payload', value: (job) => payloadCell(job.data) },
            ]);
      return [
        el(
          'p',
          { class: 'crumbs' },
          el('a', { href: '#/' }, 'Queues'),
          ' / ',
          el('a', { href: `#/queue/${q(name)}` }, name),
          ' / dead letters',
        ),
        el(
          'h1',
          {},
          `Dead letters of ${name}`,
          ' ',
          el('span', { class: 'muted', id: 'dead-count' }, `${items.length}`),
        ),
        message,
        buttons,
        table,
      ];
    },
  };
}

function jobView(id) {
  return {
    done: (data) => !data.job || TERMINAL.has(data.job.state),
    load: async () => {
      if (!id) return { queues: (await api('overview')).queues.map((queue) => queue.name) };
      try {
        return { job: await api(`jobs/${q(id)}`) };
      } catch (error) {
        if (error.code === 'ERR_UNKNOWN_JOB') return { missing: error.message };
        throw error;
      }
    },
    render(data) {
      const form = el(
        'form',
        {
          class: 'lookup',
          onsubmit: (event) => {
            event.preventDefault();
            const value = event.target.elements.id.value.trim();
            if (value) location.hash = `#/jobs/${q(value)}`;
          },
        },
        el('input', {
          name: 'id',
          id: 'job-id',
          placeholder: 'job id',
          value: id ?? '',
          autocomplete: 'off',
          'aria-label': 'job id',
        }),
        el('button', { type: 'submit' }, 'Look up'),
      );
      const parts = [el('h1', {}, 'Job lookup'), form];
      if (data.missing) parts.push(notice(`${id}: ${data.missing}`, 'error'));
      const job = data.job;
      if (job) {
        const progress =
          typeof job.progress === 'number'
            ? el(
                'div',
                { class: 'progress' },
                el('progress', { max: 100, value: job.progress }),
                ` ${job.progress}%`,
              )
            : job.progress === undefined
              ? '—'
              : el('code', {}, JSON.stringify(job.progress));
        const rows = [
          ['Queue', job.queue],
          ['Name', job.name],
          ['State', el('span', { class: `tag state-${job.state}`, 'data-field': 'state' }, job.state)],
          ['Progress', el('span', { 'data-field': 'progress' }, progress)],
          [
            'Result',
            job.result === undefined
              ? '—'
              : el('code', { class: 'payload', 'data-field': 'result' }, job.result),
          ],
          ['Error', job.error ?? '—'],
          ['Reason', job.reason ?? '—'],
          ['Attempts', `${job.attempts}${job.maxAttempts ? ` of ${job.maxAttempts}` : ''}`],
          ['Created', fmtTime(job.createdAt)],
          ['Started', fmtTime(job.startedAt)],
          ['Finished', fmtTime(job.finishedAt)],
          ['Updated', fmtTime(job.updatedAt)],
        ];
        parts.push(
          el(
            'table',
            { class: 'fields', id: 'job' },
            el(
              'tbody',
              {},
              rows.map(([label, value]) => el('tr', {}, el('th', {}, label), el('td', {}, value))),
            ),
          ),
        );
        if (!TERMINAL.has(job.state)) parts.push(notice('Refreshing until the job finishes…', 'muted'));
      }
      return parts;
    },
  };
}

function schedulesView() {
  return {
    load: () => api('schedules'),
    render(data) {
      return [
        el('h1', {}, 'Schedules'),
        data.schedules.length === 0
          ? notice('No schedule on these queues.', 'muted')
          : el(
              'table',
              { class: 'grid', id: 'schedules' },
              el(
                'thead',
                {},
                el(
                  'tr',
                  {},
                  ['Queue', 'Schedule', 'Job name', 'When', 'Last run', 'Next run'].map((label) =>
                    el('th', {}, label),
                  ),
                ),
              ),
              el(
                'tbody',
                {},
                data.schedules.map((s) =>
                  el(
                    'tr',
                    { 'data-schedule': s.name },
                    el('td', {}, el('a', { href: `#/queue/${q(s.queue)}` }, s.queue)),
                    el('td', {}, s.name),
                    el('td', {}, s.jobName),
                    el(
                      'td',
                      {},
                      s.cron ? `cron ${s.cron}${s.tz ? ` (${s.tz})` : ' (UTC)'}` : fmtEvery(s.every),
                    ),
                    el('td', { 'data-field': 'lastRunAt' }, fmtTime(s.lastRunAt)),
                    el('td', { 'data-field': 'nextRunAt' }, fmtTime(s.nextRunAt)),
                  ),
                ),
              ),
            ),
      ];
    },
  };
}

function route() {
  const decode = (part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part;
    }
  };
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decode);
  for (const link of document.querySelectorAll('[data-nav]')) link.classList.remove('current');
  const nav = (name) => document.querySelector(`[data-nav="${name}"]`)?.classList.add('current');
  if (parts[0] === 'queue' && parts[1]) {
    nav('queues');
    return parts[2] === 'dead' ? deadLettersView(parts[1]) : queueView(parts[1]);
  }
  if (parts[0] === 'jobs') {
    nav('jobs');
    return jobView(parts[1]);
  }
  if (parts[0] === 'schedules') {
    nav('schedules');
    return schedulesView();
  }
  nav('queues');
  return overviewView();
}

let current = route();
let generation = 0;
let timer;

async function refresh() {
  clearTimeout(timer);
  const mine = ++generation;
  const shown = current;
  try {
    const data = await shown.load();
    if (mine !== generation || shown !== current) return;
    // Keep what the user is typing across a redraw.
    const focused = document.activeElement;
    const typed =
      focused instanceof HTMLInputElement && focused.type !== 'checkbox' ? focused.value : undefined;
    view.replaceChildren(...shown.render(data).filter(Boolean));
    const again = focused?.id ? document.getElementById(focused.id) : null;
    if (again) {
      if (typed !== undefined) again.value = typed;
      again.focus();
    }
    setStatus(`live · ${new Date().toLocaleTimeString()}`, 'live');
    view.dataset.loaded = String(mine);
    if (shown.done?.(data)) {
      setStatus(`up to date · ${new Date().toLocaleTimeString()}`, 'live');
      return;
    }
  } catch (error) {
    if (mine !== generation) return;
    if (error instanceof ApiError) view.replaceChildren(notice(`${error.message} (${error.code})`, 'error'));
    setStatus('connection lost, retrying…', 'down');
  }
  // No redraw under an open dialog.
  const tick = () => {
    if (document.getElementById('confirm').open) timer = setTimeout(tick, REFRESH_MS);
    else refresh();
  };
  timer = setTimeout(tick, REFRESH_MS);
}

document.getElementById('mode').textContent = actionsOn ? 'actions on' : 'read-only';
window.addEventListener('hashchange', () => {
  current = route();
  view.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  refresh();
});
refresh();
