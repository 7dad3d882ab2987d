import type { ErrorClassByCode } from './by-code.js';

/** Stable error codes. */
export type ErrorCode =
  | 'ERR_QUEUEKIT'
  | 'ERR_CONFIG'
  | 'ERR_PAYLOAD_TOO_LARGE'
  | 'ERR_UNSUPPORTED_FEATURE'
  | 'ERR_SCHEMA_VALIDATION'
  | 'ERR_UNRECOVERABLE'
  | 'ERR_RETRY_AFTER'
  | 'ERR_LOCK_LOST'
  | 'ERR_QUEUE_CLOSED'
  | 'ERR_ADAPTER_NOT_INSTALLED'
  | 'ERR_UNKNOWN_SCHEME'
  | 'ERR_DECODE'
  | 'ERR_BROKER_UNAVAILABLE'
  | 'ERR_TIMEOUT'
  | 'ERR_ENCODE'
  | 'ERR_PARTIAL_SEND'
  | 'ERR_FORGED_MESSAGE'
  | 'ERR_AUTH'
  | 'ERR_DRIVER';

/**
 * Marks every queuekit error. `Symbol.for` is shared by every copy of core loaded in a process (two
 * installed versions, a bundled one and a linked one), so {@link QueuekitError.is} agrees across them where
 * `instanceof` does not.
 */
const QUEUEKIT_ERROR = Symbol.for('queuekit.error');

/** Base class of every queuekit error. */
export class QueuekitError extends Error {
  /** Stable, documented code. */
  readonly code: ErrorCode;

  constructor(message: string, code: ErrorCode = 'ERR_QUEUEKIT', options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  /**
   * Whether `value` is a queuekit error made by any copy of core, with one of `code` when given. Use it
   * rather than `instanceof`, which fails for an error made by another installed copy. With a code, the
   * value is typed as that code's class (`QueuekitError.is(e, 'ERR_RETRY_AFTER')` gives `e.delayMs`).
   * Called on a subclass (`LockLostError.is(e)`), it also asks that the error be of that class or one
   * of its subclasses, by class name.
   */
  static is<C extends ErrorCode = ErrorCode>(
    value: unknown,
    code?: C | readonly C[],
  ): value is ErrorOfCode<C> {
    if (typeof value !== 'object' || value === null) return false;
    try {
      if ((value as { [QUEUEKIT_ERROR]?: unknown })[QUEUEKIT_ERROR] !== true) return false;
      const found = (value as { code?: unknown }).code;
      if (typeof found !== 'string') return false;
      if (code !== undefined && !(typeof code === 'string' ? [code] : code).includes(found as C))
        return false;
      // biome-ignore lint/complexity/noThisInStatic: the class it is called on (`LockLostError.is`) is the point.
      return this === QueuekitError || classNames(value).includes(this.name);
    } catch {
      return false;
    }
  }
}

function classNames(value: object): string[] {
  const names: string[] = [];
  for (
    let proto = Object.getPrototypeOf(value);
    proto && names.length < 32;
    proto = Object.getPrototypeOf(proto)
  )
    names.push(String((proto as { constructor?: { name?: unknown } }).constructor?.name));
  return names;
}

// On the prototype, not the instance: invisible to `inspect`, JSON and spreading.
Object.defineProperty(QueuekitError.prototype, QUEUEKIT_ERROR, { value: true });

/** Error message of an unknown thrown value, never throwing itself. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return 'unknown error';
  }
}

/** What {@link QueuekitError.is} narrows to for a code (any queuekit error for the base code or none). */
export type ErrorOfCode<C extends ErrorCode> = ErrorCode extends C ? QueuekitError : ErrorClassByCode[C];
