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
    // Not a URL: the patterns below still find `user:password@`.
  }
  // `scheme://user:password@host`, and `user:password@host` typed without a scheme (which URL
  // parsing reads as a scheme and a path, with no password).
  const userInfo = /(?:^\s*|\/\/)[^:/@\s]*:([^@/\s]+)@/.exec(url);
  if (userInfo?.[1]) found.push(userInfo[1], safeDecode(userInfo[1]));
  return [...new Set(found.filter((secret) => secret.length > 0 && secret !== '***'))];
}

/** The URLs given on a command line (`--url`, `--store`, with a space or `=`), even one that does not parse. */
export function urlsInArgv(argv: readonly string[]): string[] {
  const urls: string[] = [];
  argv.forEach((arg, index) => {
    const inline = /^--(?:url|store)=(.*)$/s.exec(arg);
    if (inline?.[1]) urls.push(inline[1]);
    else if ((arg === '--url' || arg === '--store') && argv[index + 1] !== undefined) {
      urls.push(argv[index + 1] as string);
    }
  });
  return urls;
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
