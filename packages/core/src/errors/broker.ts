/** Errors about reaching and talking to a broker and its adapter. */
import { QueuekitError } from './base.js';

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

/** The broker could not be reached (within the configured wait). */
export class BrokerUnavailableError extends QueuekitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_BROKER_UNAVAILABLE', options);
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

/**
 * A driver failed with an error it did not classify (see `Driver.classifyError`): the core wraps it so
 * that no untyped error escapes. `operation` names the driver call (`send`, `receive`, `ack`...); the
 * original error is the `cause` (drivers scrub secrets from their errors before throwing them).
 */
export class DriverError extends QueuekitError {
  constructor(
    readonly provider: string,
    readonly operation: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${provider} ${operation} failed: ${message}`, 'ERR_DRIVER', options);
  }
}
