/**
 * amqplib and socket errors mapped to queuekit's typed errors. No result holds the driver's secrets, nor
 * amqplib's own error objects (they can reach the connection, and through it the URL).
 */
import { AuthenticationError, ConfigError, DriverError, QueuekitError } from '@queuekit/core';
import { foreignError } from '@queuekit/core/driver-kit';

/** What {@link classifyError} needs from its driver. */
export interface ErrorContext {
  /** `scheme://host:port`, named in an AuthenticationError. */
  readonly broker: string;
  /** Masks every secret of the driver in a text. */
  readonly scrub: (text: string) => string;
}

/** Node's TLS verification failures of the broker's certificate (we refuse it). */
const UNTRUSTED =
  /^(UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT(_LOCALLY)?)|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_(UNTRUSTED|HAS_EXPIRED|NOT_YET_VALID|REVOKED|SIGNATURE_FAILURE)|ERR_TLS_CERT_ALTNAME_INVALID)$/;
/** The broker's TLS alerts: no client certificate, or one it does not accept. */
const REFUSED_HANDSHAKE =
  /^ERR_SSL_.*ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|ACCESS_DENIED|HANDSHAKE_FAILURE|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE)$/;

/** Why the broker refused us when retrying cannot help (credentials, vhost, certificates), else undefined. */
function refusal(code: unknown, text: string, broker: string): string | undefined {
  const at = `RabbitMQ at ${broker}`;
  if (typeof code === 'string' && UNTRUSTED.test(code))
    return `The TLS certificate of ${at} does not verify (${text}); check tls.ca / cacertfile and the host name`;
  if (typeof code === 'string' && REFUSED_HANDSHAKE.test(code))
    return `${at} refused the TLS handshake (${text}); check tls.cert / tls.key (certfile / keyfile)`;
  if (/\b403 \(ACCESS-REFUSED\)/.test(text))
    return `${at} refused the login: wrong user name or password (${text})`;
  // amqplib reports a refused `connection.open` without RabbitMQ's reason: the vhost does not exist or the
  // user has no permissions on it.
  if (/Expected ConnectionOpenOk; got <ConnectionClose/.test(text))
    return `${at} refused to open the vhost: it does not exist or the user has no permissions on it`;
  return undefined;
}

/**
 * The queuekit error for what a driver call (`operation`) threw: itself when it is one; AuthenticationError for
 * a refusal; ConfigError for a queue declared with other arguments (`operation` is `declare <queue>`); else a
 * DriverError holding a scrubbed copy. Never throws.
 */
export function classifyError(error: unknown, operation: string, context: ErrorContext): QueuekitError {
  try {
    if (QueuekitError.is(error)) return error;
    const cause = foreignError(error, context.scrub);
    const { code } = cause as { code?: unknown };
    const refused = refusal(code, cause.message, context.broker);
    if (refused) return new AuthenticationError(context.broker, refused);
    if (operation.startsWith('declare ') && code === 406)
      return new ConfigError(
        'queueType',
        `queue \`${operation.slice(8)}\` already exists with other arguments (${cause.message}); delete it or match its type`,
      );
    return new DriverError('rabbitmq', operation, cause.message, { cause });
  } catch {
    return new DriverError('rabbitmq', operation, 'an error that could not be read');
  }
}
