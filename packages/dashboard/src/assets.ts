import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SECURITY_HEADERS, type DashboardResponse } from './http.js';

/** The UI's files, shipped as they are (no build step) in the package's `ui/` folder. */
const FILES = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
} as const;

export type AssetName = keyof typeof FILES;

const cache = new Map<AssetName, { text: string; etag: string }>();

function load(name: AssetName): { text: string; etag: string } {
  let file = cache.get(name);
  if (file === undefined) {
    const text = readFileSync(new URL(`../ui/${name}`, import.meta.url), 'utf8');
    file = { text, etag: `"${createHash('sha256').update(text).digest('base64url').slice(0, 22)}"` };
    cache.set(name, file);
  }
  return file;
}

export function isAsset(name: string): name is AssetName {
  return Object.hasOwn(FILES, name);
}

/** A UI file; `304` when the browser's copy (`If-None-Match`) is current. */
export function asset(name: AssetName, ifNoneMatch: string | undefined): DashboardResponse {
  const { text, etag } = load(name);
  const headers = { ...SECURITY_HEADERS, 'content-type': FILES[name], 'cache-control': 'no-cache', etag };
  if (ifNoneMatch?.split(',').some((tag) => tag.trim() === etag)) return { status: 304, headers, body: '' };
  return { status: 200, headers, body: text };
}

const escapeAttribute = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The one HTML page: the script draws every view from the API. Nothing here comes from a broker. */
export function page(options: { title: string; csrfToken: string | undefined }): DashboardResponse {
  const title = escapeAttribute(options.title);
  const body = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<meta name="queuekit-actions" content="${options.csrfToken ? 'on' : 'off'}">
${options.csrfToken ? `<meta name="queuekit-csrf" content="${escapeAttribute(options.csrfToken)}">\n` : ''}<title>${title}</title>
<link rel="stylesheet" href="assets/app.css">
<script type="module" src="assets/app.js"></script>
</head>
<body>
<header class="top">
  <a class="brand" href="#/">${title}</a>
  <nav>
    <a href="#/" data-nav="queues">Queues</a>
    <a href="#/jobs" data-nav="jobs">Job lookup</a>
    <a href="#/schedules" data-nav="schedules">Schedules</a>
  </nav>
  <span class="mode" id="mode"></span>
  <span class="status" id="status" role="status" aria-live="polite"></span>
</header>
<main id="view"><p class="muted">Loading…</p></main>
<dialog id="confirm">
  <form method="dialog">
    <p id="confirm-text"></p>
    <div class="buttons">
      <button value="cancel" id="confirm-cancel">Cancel</button>
      <button value="ok" id="confirm-ok" class="danger">Confirm</button>
    </div>
  </form>
</dialog>
<noscript>This dashboard needs JavaScript.</noscript>
</body>
</html>
`;
  return {
    status: 200,
    headers: { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
    body,
  };
}
