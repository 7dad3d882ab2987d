/** Names of the headers the core stores on every message. Drivers keep them verbatim. */
export const H = {
  attempt: 'qk-attempt',
  maxAttempts: 'qk-max-attempts',
  name: 'qk-name',
  enqueuedAt: 'qk-enqueued-at',
  notBefore: 'qk-not-before',
  backoff: 'qk-backoff',
  priority: 'qk-priority',
  contentType: 'content-type',
  deadLetterReason: 'qk-dead-letter-reason',
  deadLetterError: 'qk-dead-letter-error',
} as const;

const CORE_PREFIX = 'qk-';

/** User-visible headers: everything but the core's own. */
export function userHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (!key.startsWith(CORE_PREFIX) && key !== H.contentType) out[key] = value;
  }
  return out;
}

/** Parse a positive integer header, or return `fallback`. */
export function intHeader(headers: Readonly<Record<string, string>>, key: string, fallback: number): number {
  const raw = headers[key];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  return Number.isFinite(value) ? value : fallback;
}
