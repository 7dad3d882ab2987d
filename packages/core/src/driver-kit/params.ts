import { ConfigError } from '../errors.js';
import { isSecretName } from '../redact.js';

/** One parameter of a driver's URL query or options object. */
export type ParamSpec =
  | { readonly type: 'int'; readonly min?: number; readonly max?: number; readonly default?: number }
  | { readonly type: 'ms'; readonly min?: number; readonly max?: number; readonly default?: number }
  | { readonly type: 'bool'; readonly default?: boolean }
  | { readonly type: 'enum'; readonly values: readonly string[]; readonly default?: string }
  | { readonly type: 'string'; readonly pattern?: RegExp; readonly default?: string };

/** The parsed value of a parameter: required when it has a default, else possibly undefined. */
export type ParamValue<S extends ParamSpec> = S extends { readonly type: 'int' | 'ms' }
  ? number
  : S extends { readonly type: 'bool' }
    ? boolean
    : S extends { readonly type: 'enum'; readonly values: readonly (infer V)[] }
      ? V
      : string;

/** What {@link parseParams} returns for a set of specs. */
export type ParsedParams<S extends Readonly<Record<string, ParamSpec>>> = {
  readonly [K in keyof S]: S[K] extends { readonly default: unknown }
    ? ParamValue<S[K]>
    : ParamValue<S[K]> | undefined;
};

/** Builders for {@link ParamSpec}s that keep the literal types (`param.enum(['a', 'b'])` parses to `'a' | 'b'`). */
export const param = {
  int: <O extends { min?: number; max?: number; default?: number }>(options?: O) =>
    ({ type: 'int', ...options }) as { readonly type: 'int' } & Readonly<O>,
  /** Milliseconds: an integer, or a number with a unit (`250ms`, `5s`, `2m`, `1h`). */
  ms: <O extends { min?: number; max?: number; default?: number }>(options?: O) =>
    ({ type: 'ms', ...options }) as { readonly type: 'ms' } & Readonly<O>,
  /** `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off` (any case); an empty value is true (`?tls`). */
  bool: <O extends { default?: boolean }>(options?: O) =>
    ({ type: 'bool', ...options }) as { readonly type: 'bool' } & Readonly<O>,
  enum: <const V extends readonly string[], O extends { default?: V[number] }>(values: V, options?: O) =>
    ({ type: 'enum', values, ...options }) as { readonly type: 'enum'; readonly values: V } & Readonly<O>,
  string: <O extends { pattern?: RegExp; default?: string }>(options?: O) =>
    ({ type: 'string', ...options }) as { readonly type: 'string' } & Readonly<O>,
} as const;

/** Options of {@link parseParams}. */
export interface ParseParamsOptions {
  /**
   * A parameter no spec names: `error` (the default) throws a `ConfigError` naming it, `ignore` skips it, a
   * function is told its name (to warn) and it is skipped.
   */
  readonly unknown?: 'error' | 'ignore' | ((name: string) => void);
  /** Prefix of the field named in errors (`url.` gives `url.prefetch`). Default none. */
  readonly fieldPrefix?: string;
}

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const TRUE = new Set(['', 'true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/**
 * Parse a URL's query (`URLSearchParams`) or an options object against `specs`: each value checked and
 * converted, defaults filled in, and a `ConfigError` naming the field for a wrong, repeated or unknown
 * parameter. The value of a secret-looking parameter (`password`, `token`...) is never echoed.
 */
export function parseParams<S extends Readonly<Record<string, ParamSpec>>>(
  input: URLSearchParams | Readonly<Record<string, unknown>>,
  specs: S,
  options: ParseParamsOptions = {},
): ParsedParams<S> {
  const prefix = options.fieldPrefix ?? '';
  const raw = new Map<string, unknown>();
  const entries = input instanceof URLSearchParams ? [...input.entries()] : Object.entries(input);
  for (const [name, value] of entries) {
    if (value === undefined) continue;
    if (raw.has(name)) throw new ConfigError(`${prefix}${name}`, 'given more than once');
    raw.set(name, value);
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const value = raw.get(name);
    raw.delete(name);
    const parsed = value === undefined ? spec.default : parseOne(`${prefix}${name}`, spec, value);
    if (parsed !== undefined) out[name] = parsed;
  }
  for (const name of raw.keys()) {
    if (options.unknown === 'ignore') continue;
    if (typeof options.unknown === 'function') options.unknown(name);
    else
      throw new ConfigError(
        `${prefix}${name}`,
        `unknown parameter (expected one of: ${Object.keys(specs).join(', ') || 'none'})`,
      );
  }
  return out as ParsedParams<S>;
}

function parseOne(field: string, spec: ParamSpec, value: unknown): unknown {
  const shown = isSecretName(field.slice(field.lastIndexOf('.') + 1)) ? 'the value given' : describe(value);
  const fail = (expected: string): never => {
    throw new ConfigError(field, `expected ${expected}, got ${shown}`);
  };
  switch (spec.type) {
    case 'int':
    case 'ms': {
      const number = spec.type === 'ms' ? toMs(value) : toInt(value);
      const range = `${spec.min ?? '-∞'}..${spec.max ?? '∞'}`;
      const what =
        spec.type === 'ms' ? `a duration in ms (${range}; units ms, s, m, h)` : `an integer (${range})`;
      if (number === undefined) return fail(what);
      if ((spec.min !== undefined && number < spec.min) || (spec.max !== undefined && number > spec.max))
        return fail(what);
      return number;
    }
    case 'bool': {
      if (typeof value === 'boolean') return value;
      const text = typeof value === 'string' ? value.trim().toLowerCase() : undefined;
      if (text !== undefined && TRUE.has(text)) return true;
      if (text !== undefined && FALSE.has(text)) return false;
      return fail('true or false');
    }
    case 'enum':
      if (typeof value === 'string' && spec.values.includes(value)) return value;
      return fail(`one of ${spec.values.join(', ')}`);
    case 'string':
      if (typeof value !== 'string') return fail('a string');
      if (spec.pattern && !spec.pattern.test(value)) return fail(`a value matching ${spec.pattern}`);
      return value;
  }
}

function toInt(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : undefined;
  if (typeof value !== 'string' || !/^\s*-?\d{1,16}\s*$/.test(value)) return undefined;
  const number = Number(value);
  return Number.isSafeInteger(number) ? number : undefined;
}

function toMs(value: unknown): number | undefined {
  if (typeof value === 'number') return toInt(value);
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d{1,15}(?:\.\d{1,6})?)\s*(ms|s|m|h)?\s*$/i.exec(value);
  if (!match?.[1]) return undefined;
  const ms = Number(match[1]) * (UNITS[(match[2] ?? 'ms').toLowerCase()] ?? 1);
  return Number.isSafeInteger(Math.round(ms)) && Number.isInteger(ms) ? ms : undefined;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `\`${value.length > 40 ? `${value.slice(0, 40)}…` : value}\``;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}
