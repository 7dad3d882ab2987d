/** A request as the dashboard sees it, whatever server it came through. */
export interface DashboardRequest {
  readonly method: string;
  /** Path below the mount point (`/`, `/api/overview`...) with its query string. */
  readonly url: string;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The parsed JSON body of a POST (read lazily: GETs never touch the stream). */
  readonly body: () => Promise<unknown>;
  /** The path as the browser sent it, mount point included (for the trailing-slash redirect). */
  readonly originalUrl?: string;
  /** The server's own request object (Node `IncomingMessage`, Fetch `Request`...), for `authorize`. */
  readonly raw: unknown;
}

/** What the dashboard answers; adapters write it to their server's response. */
export interface DashboardResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * Stable codes of the dashboard's HTTP errors, sent as `{ "error": { "code", "message" } }`:
 * see the package README's table.
 */
export type DashboardErrorCode =
  | 'ERR_NOT_FOUND'
  | 'ERR_UNKNOWN_QUEUE'
  | 'ERR_UNKNOWN_JOB'
  | 'ERR_METHOD_NOT_ALLOWED'
  | 'ERR_FORBIDDEN'
  | 'ERR_READ_ONLY'
  | 'ERR_CSRF'
  | 'ERR_BAD_REQUEST'
  | 'ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'ERR_BODY_TOO_LARGE'
  | 'ERR_CONFIRMATION_REQUIRED'
  | 'ERR_BROKER'
  | 'ERR_INTERNAL';

/** An error that becomes an HTTP answer with a stable code. */
export class DashboardHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: DashboardErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DashboardHttpError';
  }
}

/** Largest POST body the dashboard reads, in bytes. */
export const MAX_BODY_BYTES = 16 * 1024;

/** Decode request bytes once, as strict UTF-8 JSON (an empty body is `{}`). */
export function parseJsonBody(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new DashboardHttpError(400, 'ERR_BAD_REQUEST', 'body is not valid UTF-8');
  }
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new DashboardHttpError(400, 'ERR_BAD_REQUEST', 'body is not valid JSON');
  }
}

/** Headers every answer carries: no framing, no sniffing, no referrer, scripts and styles only from here. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

export function json(status: number, value: unknown): DashboardResponse {
  return {
    status,
    headers: {
      ...SECURITY_HEADERS,
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    },
    body: JSON.stringify(value),
  };
}

export function errorResponse(error: DashboardHttpError): DashboardResponse {
  return json(error.status, { error: { code: error.code, message: error.message } });
}
