/** Errors about what a caller gave: options, payloads, messages. */
import { QueuekitError } from './base.js';

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

/** A message body could not be decoded by the codec. */
export class DecodeError extends QueuekitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_DECODE', options);
  }
}

/** The codec could not encode a payload (a BigInt, a cycle, a wrong type...); nothing was sent. */
export class EncodeError extends QueuekitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_ENCODE', options);
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
