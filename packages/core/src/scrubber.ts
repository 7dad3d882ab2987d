import { type CredentialCommandOption, CredentialCommands } from './credential-commands.js';

export type { CredentialCommandOption } from './credential-commands.js';
import { MASK, redactUrl, secretsOf } from './redact.js';

/** Options of a {@link Scrubber}. */
export interface ScrubberOptions {
  /**
   * Also mask every argument of client commands that carry credentials, wherever an error holds them as
   * `{ name, args }` (ioredis's `error.command`): `true` for Redis's (`AUTH`, `HELLO`, `MIGRATE`, `ACL`,
   * `CONFIG`), or a list of command names. Default: none.
   */
  readonly credentialCommands?: CredentialCommandOption;
}

/**
 * Removes the secrets of some URLs from any text: the CLI passes every line it prints through one,
 * adapters their error messages.
 */
export class Scrubber {
  readonly #secrets: string[];
  readonly #commands: CredentialCommands;

  constructor(urls: readonly (string | undefined)[], options: ScrubberOptions = {}) {
    // Longest first, so a secret containing another one is replaced whole.
    this.#secrets = [...new Set(urls.flatMap(secretsOf))].sort((a, b) => b.length - a.length);
    this.#commands = new CredentialCommands(options.credentialCommands);
  }

  /** `text` with every known secret replaced by `***`. */
  scrub(text: string): string {
    let out = text;
    for (const secret of this.#secrets) out = out.split(secret).join(MASK);
    return out;
  }

  /** A URL safe to show: `redactUrl`, then scrubbed (covers secrets of the other URLs). */
  url(url: string): string {
    return this.scrub(redactUrl(url));
  }

  /**
   * Remove the secrets from an error and everything it holds, in place, and return it: every string
   * property (`message`, `stack`, a client's `command.args`...), in nested objects and arrays, through
   * `cause`, `errors` and any other link, cycles and getters included (a property that cannot be
   * rewritten is deleted). With `credentialCommands`, the `args` of credential commands found anywhere in
   * it (`error.command`, `error.previousErrors[i].command`...) are masked whole, known secret or not.
   */
  error<E>(error: E): E {
    if (this.#secrets.length === 0 && !this.#commands.enabled) return error;
    const seen = new Set<object>();
    const visit = (value: object, depth: number): void => {
      if (seen.has(value) || depth > MAX_ERROR_DEPTH) return;
      seen.add(value);
      if (this.#commands.mask(value, MASK)) return;
      const record = value as Record<PropertyKey, unknown>;
      for (const key of Reflect.ownKeys(value)) {
        let field: unknown;
        try {
          field = record[key];
        } catch {
          continue;
        }
        if (typeof field === 'string' && this.#secrets.length > 0) {
          const clean = this.scrub(field);
          if (clean !== field) rewrite(record, key, clean);
        } else if (typeof field === 'object' && field !== null) {
          visit(field, depth + 1);
        }
      }
    };
    if (typeof error === 'object' && error !== null) visit(error, 0);
    return error;
  }

  /** Never shows the secrets it holds. */
  toJSON(): string {
    return `Scrubber(${this.#secrets.length} secrets)`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toJSON();
  }
}

/** How deep `Scrubber.error` follows nested objects (causes of causes, `command.args`...). */
const MAX_ERROR_DEPTH = 20;

function rewrite(record: Record<PropertyKey, unknown>, key: PropertyKey, value: string): void {
  try {
    record[key] = value;
    if (record[key] === value) return;
  } catch {
    // Read-only: define it anew below.
  }
  try {
    Object.defineProperty(record, key, { value, writable: true, configurable: true, enumerable: true });
  } catch {
    Reflect.deleteProperty(record, key);
  }
}

/** `error` (and everything it holds) with the secrets of `urls` removed, in place (see `Scrubber.error`). */
export function scrubError<E>(error: E, urls: readonly (string | undefined)[]): E {
  return new Scrubber(urls).error(error);
}

/** `text` with the secrets of `url` (and the URL itself, redacted) scrubbed out. */
export function scrubSecrets(text: string, url: string): string {
  return new Scrubber([url]).scrub(text.split(url).join(redactUrl(url)));
}
