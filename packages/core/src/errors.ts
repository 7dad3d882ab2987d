/**
 * Typed errors. Every error thrown by queuekit is a {@link QueuekitError} with a stable `code`
 * that callers can switch on; messages are for humans and may change.
 */

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
  | 'ERR_AUTH';

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

/** Invalid configuration; `field` names the offending option (e.g. `defaults.maxAttempts`). */
export class ConfigError extends QueuekitError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`Invalid option \`${field}\`: ${message}`, 'ERR_CONFIG');
  }
}

/** The encoded message exceeds the provider's limit; nothing was sent. */
export class PayloadTooLargeError extends QueuekitError {
  constructor(
    readonly size: number,
    readonly limit: number,
    readonly provider: string,
  ) {
    super(
      `Payload of ${size} bytes exceeds the ${provider} limit of ${limit} bytes; nothing was sent`,
      'ERR_PAYLOAD_TOO_LARGE',
    );
  }
}

/** A feature was requested that the driver does not support (and the core does not emulate). */
export class UnsupportedFeatureError extends QueuekitError {
  constructor(
    readonly feature: string,
    readonly provider: string,
    hint = '',
  ) {
    super(
      `The ${provider} driver does not support ${feature}${hint ? `: ${hint}` : ''}`,
      'ERR_UNSUPPORTED_FEATURE',
    );
  }
}

/** One problem reported by a Standard Schema validator. */
export interface SchemaIssue {
  readonly message: string;
  /** Path of the offending value, as keys or `{ key }` segments (the Standard Schema shape). */
  readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;
}

function formatPath(path: SchemaIssue['path']): string {
  return (path ?? []).map((segment) => String(typeof segment === 'object' ? segment.key : segment)).join('.');
}

/** The payload failed schema validation. On send nothing was sent. */
export class SchemaValidationError extends QueuekitError {
  constructor(readonly issues: readonly SchemaIssue[]) {
    super(
      `Payload failed schema validation: ${issues
        .map((issue) => (issue.path?.length ? `${formatPath(issue.path)}: ${issue.message}` : issue.message))
        .join('; ')}`,
      'ERR_SCHEMA_VALIDATION',
    );
  }
}

/** Throw from a handler to skip the remaining attempts: the job is dead-lettered at once. */
export class UnrecoverableError extends QueuekitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_UNRECOVERABLE', options);
  }
}

/**
 * Throw from a handler to run the job again after exactly `delayMs`. By default it does not count
 * against `maxAttempts`.
 */
export class RetryAfterError extends QueuekitError {
  /** Whether this retry uses up one of the job's attempts. Default false. */
  readonly countsAsAttempt: boolean;

  constructor(
    readonly delayMs: number,
    options: { message?: string; countsAsAttempt?: boolean } = {},
  ) {
    super(options.message ?? `Retry after ${delayMs} ms`, 'ERR_RETRY_AFTER');
    this.countsAsAttempt = options.countsAsAttempt ?? false;
  }
}

/** The job's lock expired or was taken by another consumer; its settlement was refused. */
export class LockLostError extends QueuekitError {
  constructor(message = 'Lock lost: the job may be processed again by another consumer') {
    super(message, 'ERR_LOCK_LOST');
  }
}

/** The queue (or driver) is closed. */
export class QueueClosedError extends QueuekitError {
  constructor(message = 'The queue is closed') {
    super(message, 'ERR_QUEUE_CLOSED');
  }
}

/** The adapter package for a URL scheme is not installed. */
export class AdapterNotInstalledError extends QueuekitError {
  constructor(
    readonly packageName: string,
    scheme: string,
    cause?: unknown,
  ) {
    super(
      `The \`${scheme}\` URL needs the ${packageName} package: run \`npm install ${packageName}\``,
      'ERR_ADAPTER_NOT_INSTALLED',
      {
        cause,
      },
    );
  }
}

/** No driver is registered for the URL's scheme. */
export class UnknownSchemeError extends QueuekitError {
  constructor(readonly scheme: string) {
    super(`No queuekit adapter handles the \`${scheme}\` URL scheme`, 'ERR_UNKNOWN_SCHEME');
  }
}

/** A message body could not be decoded by the codec. */
export class DecodeError extends QueuekitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_DECODE', options);
  }
}

/** The broker could not be reached (within the configured wait). */
export class BrokerUnavailableError extends QueuekitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_BROKER_UNAVAILABLE', options);
  }
}

/** An operation did not finish in time. */
export class TimeoutError extends QueuekitError {
  constructor(message: string) {
    super(message, 'ERR_TIMEOUT');
  }
}

/** Error message of an unknown thrown value, never throwing itself. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return 'unknown error';
  }
}

/**
 * The broker refused who we are (wrong credentials, a client certificate it does not accept) or we
 * refused it (its TLS certificate does not verify): retrying will not help. `broker` names the
 * broker (scheme, host and port), never a credential.
 */
export class AuthenticationError extends QueuekitError {
  constructor(
    readonly broker: string,
    message: string,
  ) {
    super(message, 'ERR_AUTH');
  }
}

/** The codec could not encode a payload (a BigInt, a cycle, a wrong type...); nothing was sent. */
export class EncodeError extends QueuekitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_ENCODE', options);
  }
}

/**
 * Part of a batch was accepted by the broker and part was not. `sent` and `unsent` hold job ids
 * (in entry order); the jobs in `unsent` may be sent again safely, those in `sent` must not be.
 */
export class PartialSendError extends QueuekitError {
  constructor(
    readonly sent: readonly string[],
    readonly unsent: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(
      `Batch partly sent: ${sent.length} job(s) accepted, ${unsent.length} not sent (see \`unsent\`)`,
      'ERR_PARTIAL_SEND',
      options,
    );
  }
}

/** A message carried core bookkeeping that the core did not write (out-of-range fan-out chunk...); it was ignored. */
export class ForgedMessageError extends QueuekitError {
  constructor(
    readonly messageId: string,
    message: string,
  ) {
    super(message, 'ERR_FORGED_MESSAGE');
  }
}

/**
 * A handler ran past the `timeout` given to `process()`: its `signal` is aborted with this error and the
 * attempt counts as failed (retried with backoff as usual). Code `ERR_TIMEOUT`, like every TimeoutError.
 */
export class JobTimeoutError extends TimeoutError {
  constructor(
    readonly jobId: string,
    readonly timeoutMs: number,
  ) {
    super(`Job ${jobId} did not finish within its timeout of ${timeoutMs} ms`);
  }
}

/** The class behind each code (a code shared by several classes maps to their common base). */
export interface ErrorClassByCode {
  ERR_QUEUEKIT: QueuekitError;
  ERR_CONFIG: ConfigError;
  ERR_PAYLOAD_TOO_LARGE: PayloadTooLargeError;
  ERR_UNSUPPORTED_FEATURE: UnsupportedFeatureError;
  ERR_SCHEMA_VALIDATION: SchemaValidationError;
  ERR_UNRECOVERABLE: UnrecoverableError;
  ERR_RETRY_AFTER: RetryAfterError;
  ERR_LOCK_LOST: LockLostError;
  ERR_QUEUE_CLOSED: QueueClosedError;
  ERR_ADAPTER_NOT_INSTALLED: AdapterNotInstalledError;
  ERR_UNKNOWN_SCHEME: UnknownSchemeError;
  ERR_DECODE: DecodeError;
  ERR_BROKER_UNAVAILABLE: BrokerUnavailableError;
  ERR_TIMEOUT: TimeoutError;
  ERR_ENCODE: EncodeError;
  ERR_PARTIAL_SEND: PartialSendError;
  ERR_FORGED_MESSAGE: ForgedMessageError;
  ERR_AUTH: AuthenticationError;
}

/** What {@link QueuekitError.is} narrows to for a code (any queuekit error for the base code or none). */
export type ErrorOfCode<C extends ErrorCode> = ErrorCode extends C ? QueuekitError : ErrorClassByCode[C];
