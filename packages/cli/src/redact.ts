import { redactUrl } from '@queuekit/core';

const SECRET_QUERY_KEY = /secret|password|token|key|signature|credential/i;

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * The secret parts of a queue or store URL (password, secret-looking query values, Service Bus keys),
 * raw and percent-decoded, so they can be scrubbed from any text.
 */
export function secretsOf(url: string | undefined): string[] {
  if (!url) return [];
  const found: string[] = [];
  for (const match of url.matchAll(/(SharedAccessKey|SharedAccessSignature|AccountKey|Password)=([^;]*)/gi)) {
    if (match[2]) found.push(match[2]);
  }
  try {
    const parsed = new URL(url);
    if (parsed.password) found.push(parsed.password, safeDecode(parsed.password));
    for (const [key, value] of parsed.searchParams) {
      if (SECRET_QUERY_KEY.test(key) && value) found.push(value, encodeURIComponent(value));
    }
  } catch {
    const match = /\/\/[^:/@]*:([^@/]*)@/.exec(url);
    if (match?.[1]) found.push(match[1], safeDecode(match[1]));
  }
  return [...new Set(found.filter((secret) => secret.length > 0 && secret !== '***'))];
}

/** Replaces known secrets with `***` in every string it sees. */
export class Scrubber {
  private readonly secrets: string[];

  constructor(urls: readonly (string | undefined)[]) {
    // Longest first, so a secret containing another one is replaced whole.
    this.secrets = [...new Set(urls.flatMap(secretsOf))].sort((a, b) => b.length - a.length);
  }

  /** `text` with every known secret replaced by `***`. */
  scrub(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('***');
    return out;
  }

  /** A URL safe to show: `redactUrl`, then scrubbed (covers secrets redactUrl does not recognise). */
  url(url: string): string {
    return this.scrub(redactUrl(url));
  }
}
