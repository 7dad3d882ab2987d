/**
 * Secret scrubbing for URLs and connection strings: one parser finds the secret spans of a string,
 * `redactUrl` masks them and `Scrubber` removes them (and their encoded forms) from any other text.
 * It errs on the side of masking too much: a display string may lose a host name, never a password.
 */

/** What a secret is replaced by. */
export const MASK = '***';
/** Shortest piece of a secret that is scrubbed on its own (see `secretsOf`). */
const MIN_FRAGMENT = 4;
/** Most guesses at where a password ends (one per `@` before the last). */
const MAX_GUESSES = 16;

/**
 * Parameter names whose values are secret: `password`, `pwd`, `pass`, `sig`, `signature`, `token`,
 * `access_token`, `key`, `apikey`, `SharedAccessKey`, `auth`, `sas`, `credential`... A name ending in
 * `name` (`SharedAccessKeyName`, `keyName`) names a key and is shown.
 */
const SECRET_NAME = /secret|pass|pwd|token|key|sig|cred|auth|sas|private|session|cookie|bearer|jwt/;

/** Whether a query or connection-string parameter name holds a secret (any case, `_`, `-` or `%xx`). */
export function isSecretName(name: string): boolean {
  const plain = safeDecode(name)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
  return SECRET_NAME.test(plain) && !plain.endsWith('name');
}

/** A secret inside a string: `text.slice(start, end)`. */
interface Span {
  readonly start: number;
  readonly end: number;
  /** One of several guesses at where a password ends (the URL has more than one `@`). */
  readonly guess?: boolean;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `Key=Value;...` (Service Bus, Storage) or `key=value key=value` (libpq): the first name has no `:`, `/` or `@`. */
function isConnectionString(text: string): boolean {
  return /^\s*[^=:/@;?#\s]+\s*=/.test(text);
}

/** Secret values of `name=value` pairs separated by `&` or white space, with `'quoted values'`. */
function pairSpans(text: string, offset: number): Span[] {
  const spans: Span[] = [];
  for (const match of text.matchAll(/(^|[\s&?])([^\s=&?]+)=('[^']*'|[^\s&]*)/g)) {
    const [, lead = '', name = '', value = ''] = match;
    if (!value || !isSecretName(name)) continue;
    const start = offset + (match.index ?? 0) + lead.length + name.length + 1;
    spans.push({ start, end: start + value.length });
  }
  return spans;
}

/**
 * `scheme://userinfo@host/path?query`, read without a URL parser: the user info runs from `//` to the
 * LAST `@` (a password may hold `/`, `?`, `#`, `@`, spaces), its secret is what follows the first `:`
 * (all of it without a `:`: a token used as user name); query values are secret by name.
 */
function urlSpans(text: string, offset: number): Span[] {
  const scheme = /^\s*(?:[a-z][a-z0-9+.-]*:)?\/\//i.exec(text);
  const authorityStart = scheme ? scheme[0].length : (/^\s*/.exec(text)?.[0].length ?? 0);
  const at = text.lastIndexOf('@');
  const spans: Span[] = [];
  if (at >= authorityStart) {
    const userInfo = text.slice(authorityStart, at);
    const colon = userInfo.indexOf(':');
    const start = authorityStart + (colon >= 0 ? colon + 1 : 0);
    // Which `@` ends the user info is a guess when the query holds one too: every candidate is a span
    // (`redactUrl` masks the widest; a `Scrubber` also removes the shorter ones wherever they appear).
    let guesses = 0;
    for (let end = text.indexOf('@', start); end >= 0 && end < at; end = text.indexOf('@', end + 1)) {
      if (end > start) spans.push({ start: offset + start, end: offset + end, guess: true });
      if (++guesses >= MAX_GUESSES) break; // a string of thousands of `@` is not a URL worth scrubbing finely
    }
    if (at > start) spans.push({ start: offset + start, end: offset + at });
  }
  // The query may start inside what was taken for the password (a `?` in it): search from the first `?`.
  // A secret value runs to the next `&` (a `#` in it is part of the secret, not a fragment).
  const query = text.indexOf('?', authorityStart);
  if (query >= 0) {
    for (const match of text.slice(query).matchAll(/[?&]([^&=?]*)=([^&]*)/g)) {
      const [whole, name = '', value = ''] = match;
      if (!value || !isSecretName(name)) continue;
      const start = query + (match.index ?? 0) + whole.length - value.length;
      spans.push({ start: offset + start, end: offset + start + value.length });
    }
  }
  return spans;
}

/**
 * `Key=Value;Key=Value` in any order. A segment without `=` continues the previous value (a value that
 * holds `;`). A non-secret value is searched too: a URL (`Endpoint=amqps://u:p@h`) or `k=v` pairs.
 */
function connectionStringSpans(text: string): Span[] {
  const spans: Span[] = [];
  const segments: { start: number; text: string }[] = [];
  let position = 0;
  for (const part of text.split(';')) {
    const last = segments[segments.length - 1];
    if (last && !part.includes('=')) last.text += `;${part}`;
    else segments.push({ start: position, text: part });
    position += part.length + 1;
  }
  for (const segment of segments) {
    const equals = segment.text.indexOf('=');
    if (equals < 0) continue;
    const name = segment.text.slice(0, equals).trim();
    const valueStart = segment.start + equals + 1;
    const value = segment.text.slice(equals + 1);
    if (isSecretName(name)) {
      if (value.trim()) spans.push({ start: valueStart, end: valueStart + value.length });
    } else if (/[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
      const url = value.search(/[a-z][a-z0-9+.-]*:\/\//i);
      spans.push(...urlSpans(value.slice(url), valueStart + url));
    } else {
      spans.push(...pairSpans(value, valueStart));
    }
  }
  return spans;
}

function secretSpans(text: string): Span[] {
  return isConnectionString(text) ? connectionStringSpans(text) : urlSpans(text, 0);
}

/**
 * `url` with its secrets replaced by `***`: the password (user info up to the last `@`), secret-looking
 * query values (`sig`, `pwd`, `token`, `apikey`, `access_token`, `sas`...), and secret keys of
 * connection strings in any key order (`SharedAccessKey`, `SharedAccessSignature`, `AccountKey`,
 * `Password`). Never throws, whatever the input.
 */
export function redactUrl(url: string): string {
  let out = '';
  let shown = 0;
  for (const span of mergeSpans(secretSpans(url))) {
    out += `${url.slice(shown, span.start)}${MASK}`;
    shown = span.end;
  }
  return out + url.slice(shown);
}

/** Sorted spans with the overlapping ones joined. */
function mergeSpans(spans: readonly Span[]): Span[] {
  const merged: Span[] = [];
  for (const span of [...spans].sort((a, b) => a.start - b.start)) {
    const last = merged[merged.length - 1];
    if (last && span.start <= last.end)
      merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, span.end) };
    else merged.push(span);
  }
  return merged;
}

/** The forms a secret may take once a library has parsed, decoded or re-encoded the URL. */
function variants(secret: string): string[] {
  const unquoted = /^'.*'$/s.test(secret) ? secret.slice(1, -1) : secret;
  const forms: string[] = [];
  // Connection strings are taken literally, URLs decoded: both, and what encoders make of each.
  for (const form of new Set([unquoted, safeDecode(unquoted), safeDecode(unquoted.replace(/\+/g, ' '))])) {
    // JSON.stringify escapes `"` and `\` (the CLI's --json output, JSON logs).
    forms.push(form, encodeURIComponent(form), encodeURI(form), JSON.stringify(form).slice(1, -1));
    try {
      // What a WHATWG URL (used by most SDKs) makes of it as a password and as a query value.
      const probe = new URL('x://h');
      probe.password = form;
      forms.push(probe.password, new URLSearchParams({ v: form }).toString().slice(2));
    } catch {
      // Only the forms above.
    }
  }
  return [secret, ...forms];
}

/**
 * The secret parts of a URL or connection string (as `redactUrl` finds them), raw, percent-decoded and
 * re-encoded, so they can be scrubbed from any text (an SDK error may echo any of these forms).
 */
export function secretsOf(url: string | undefined): string[] {
  if (!url) return [];
  const found: string[] = [];
  for (const span of secretSpans(url)) {
    const secret = url.slice(span.start, span.end).trim();
    // A guessed end shorter than this would mask common letters everywhere.
    if (span.guess && secret.length < MIN_FRAGMENT) continue;
    found.push(...variants(secret));
    // A SAS (`SharedAccessSignature sr=...&sig=...`) may be printed in parts.
    for (const inner of pairSpans(secret, 0)) found.push(...variants(secret.slice(inner.start, inner.end)));
    // A parser that splits the URL elsewhere (at a `/`, `?`, `#` or `@` of the password) may echo a piece.
    for (const form of new Set([secret, safeDecode(secret)])) {
      for (const piece of form.split(/[/?#@\s]+/)) {
        if (piece.length >= MIN_FRAGMENT && piece !== form) found.push(...variants(piece));
      }
    }
  }
  return [...new Set(found.map((secret) => secret.trim()))].filter(
    (secret) => secret.length > 0 && secret !== MASK,
  );
}
