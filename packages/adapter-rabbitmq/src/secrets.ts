import { QueuekitError, redactUrl, secretsOf } from '@queuekit/core';

const MASK = '***';

/** Every spelling of a URL's password: as written, as WHATWG normalises it, and decoded. */
function passwordSpellings(url: string): string[] {
  const out: string[] = [];
  const written = /^[a-z][a-z0-9+.-]*:\/\/[^:@/?#]*:([^@]*)@/i.exec(url)?.[1];
  if (written) out.push(written);
  try {
    const parsed = new URL(url);
    out.push(parsed.password);
    for (const decode of [decodeURIComponent, unescape]) {
      try {
        out.push(decode(parsed.password));
      } catch {
        // Not valid percent-encoding: the other spellings still cover it.
      }
    }
  } catch {
    // An unparsable URL was refused by option validation already.
  }
  return out;
}

/**
 * The secrets of one driver (URL, password, TLS key and passphrase) and the scrubbing of text and
 * errors that might echo them. Kept in a private field of its owner; never printed itself.
 */
export class Secrets {
  readonly #url: string;
  readonly #needles: string[];

  constructor(url: string, others: readonly (string | Buffer | undefined)[] = []) {
    this.#url = url;
    // The core's spellings of the URL's secrets (decoded, re-encoded, JSON-escaped, pieces) plus ours.
    const needles = [...secretsOf(url), ...passwordSpellings(url)];
    for (const other of others) {
      if (other === undefined) continue;
      const text = Buffer.isBuffer(other) ? other.toString('utf8') : other;
      needles.push(text, text.trim());
    }
    // Longest first, so a secret containing another is masked whole. Very short ones would mask
    // ordinary text; a password under 3 characters is not worth protecting that way.
    this.#needles = [...new Set(needles)].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  }

  /** `text` with the URL shown redacted and every secret replaced by `***`. */
  scrub(text: string): string {
    let out = text.split(this.#url).join(redactUrl(this.#url));
    for (const needle of this.#needles) out = out.split(needle).join(MASK);
    return out;
  }

  /**
   * A secret-free version of `error` for callers: a foreign (amqplib, socket) error becomes a plain
   * Error of the same name with its message, stack and primitive `code` scrubbed and nothing else
   * kept; our own errors keep their class with message and stack scrubbed. Through every `cause`;
   * a thrown non-Error object becomes an Error of its scrubbed `String()`.
   */
  scrubError(error: unknown, depth = 0): unknown {
    if (depth > 8) return new Error('(cause chain truncated)');
    if (typeof error === 'string') return this.scrub(error);
    if (typeof error === 'object' && error !== null && !(error instanceof Error)) {
      return new Error(this.scrub(String(error)));
    }
    if (!(error instanceof Error)) return error;
    const own = error instanceof QueuekitError;
    const target: Error = own ? error : new Error(this.scrub(error.message));
    if (own) target.message = this.scrub(error.message);
    else {
      target.name = error.name;
      const code = (error as { code?: unknown }).code;
      if (typeof code === 'string' || typeof code === 'number') {
        Object.defineProperty(target, 'code', {
          value: typeof code === 'string' ? this.scrub(code) : code,
          enumerable: true,
        });
      }
    }
    if (error.stack !== undefined) target.stack = this.scrub(error.stack);
    if (error.cause !== undefined) {
      Object.defineProperty(target, 'cause', {
        value: this.scrubError(error.cause, depth + 1),
        enumerable: false,
        writable: true,
        configurable: true,
      });
    }
    return target;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secrets(***)';
  }

  toJSON(): string {
    return '***';
  }
}
