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

/** Base class of every queuekit error. */
export class QueuekitError extends Error {
  /** Stable, documented code. */
  readonly code: ErrorCode;

  constructor(message: string, code: ErrorCode = 'ERR_QUEUEKIT', options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

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
