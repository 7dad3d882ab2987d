/** `error`'s field, or undefined when reading it throws (a hostile getter). */
function field(error: unknown, name: string): unknown {
  try {
    return (error as Record<string, unknown> | null | undefined)?.[name];
  } catch {
    return undefined;
  }
}

/** `text` through `scrub`, or `fallback` when `scrub` throws. */
function scrubbed(text: string, scrub: (text: string) => string, fallback: string): string {
  try {
    return scrub(text);
  } catch {
    return fallback;
  }
}

/** `error`'s message (or the error as text) through `scrub`; never throws. */
export function foreignMessage(error: unknown, scrub: (text: string) => string): string {
  const message = field(error, 'message');
  let text: string;
  try {
    text = typeof message === 'string' ? message : String(error);
  } catch {
    return Object.prototype.toString.call(error);
  }
  return scrubbed(text, scrub, Object.prototype.toString.call(error));
}

/**
 * A plain `Error` standing for a vendor's error, safe to hold as a `cause`: only its name, scrubbed message and
 * stack, and a primitive `code`, through its `cause` chain (8 deep at most). A client's error objects can reach
 * its connection (and through it a URL or signed requests); the copy holds none of them. Never throws.
 */
export function foreignError(error: unknown, scrub: (text: string) => string, depth = 0): Error {
  const [name, stack, code, cause] = ['name', 'stack', 'code', 'cause'].map((key) => field(error, key));
  const chained = cause !== undefined && depth < 8 ? { cause: foreignError(cause, scrub, depth + 1) } : {};
  const copy = new Error(foreignMessage(error, scrub), chained);
  if (typeof name === 'string') copy.name = name;
  const plain = `${copy.name}: ${copy.message}`;
  copy.stack = typeof stack === 'string' ? scrubbed(stack, scrub, plain) : plain;
  if (typeof code === 'number') Object.assign(copy, { code });
  if (typeof code === 'string') Object.assign(copy, { code: scrubbed(code, scrub, '') });
  return copy;
}
