import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DashboardHttpError, type DashboardRequest } from './http.js';

/** Header that carries the CSRF token on actions (a custom header also forces a CORS preflight). */
export const CSRF_HEADER = 'x-queuekit-csrf';

/** The token the page sends with every action: derived from the secret, never from a broker secret. */
export function csrfToken(secret: string | undefined): string {
  const key = secret ?? randomBytes(32).toString('hex');
  return createHmac('sha256', key).update('queuekit-dashboard-csrf-v1').digest('base64url');
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Refuse an action that did not come from the dashboard's own page: another site (Origin or
 * Sec-Fetch-Site), a form post (content type), or a request without the page's token.
 */
export function checkAction(
  request: DashboardRequest,
  token: string,
  allowedOrigins: ReadonlySet<string>,
): void {
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new DashboardHttpError(403, 'ERR_CSRF', 'cross-site request refused');
  }
  const origin = request.headers.origin;
  if (origin !== undefined && !allowedOrigins.has(origin.toLowerCase())) {
    let host: string | undefined;
    try {
      host = new URL(origin).host.toLowerCase();
    } catch {
      host = undefined;
    }
    if (host === undefined || host !== (request.headers.host ?? '').toLowerCase()) {
      throw new DashboardHttpError(403, 'ERR_CSRF', 'cross-site request refused');
    }
  }
  const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new DashboardHttpError(415, 'ERR_UNSUPPORTED_MEDIA_TYPE', 'send actions as application/json');
  }
  const given = request.headers[CSRF_HEADER];
  if (given === undefined || !sameToken(given, token)) {
    throw new DashboardHttpError(403, 'ERR_CSRF', `missing or wrong ${CSRF_HEADER} header`);
  }
}
